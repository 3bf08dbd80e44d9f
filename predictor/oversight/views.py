"""The staff pages of human oversight, in the admin (``predictor.sites`` mounts and guards them): override a
prediction's estimate, and pause or resume the service. Thin: bind the form, call the service, render."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from .. import selectors as prediction_selectors
from ..models import ChargeOverride, Prediction, ServingChange
from . import selectors, services
from .forms import ChargeOverrideForm, ServingChangeForm

# The record of pauses and resumes the page shows (the admin's list holds all of them).
RECENT_CHANGES = 10


def _errors_shown(form: Form, exc: ValidationError) -> None:
    """A service's ValidationError, by the form's fields (or above them)."""
    for field, problems in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@require_http_methods(["GET", "HEAD", "POST"])
def charge_override(request: HttpRequest, admin_context: dict[str, Any], pk: int) -> HttpResponse:
    """GET shows the prediction's estimate, its overrides and the form; a good POST records a reviewed charge."""
    prediction = prediction_selectors.prediction_get(prediction_id=pk)
    if prediction is None:
        raise Http404(f"There is no prediction {pk}.")
    form = ChargeOverrideForm(request.POST) if request.method == "POST" else ChargeOverrideForm()
    context = {
        **admin_context,
        "opts": Prediction._meta,
        "title": f"Override the estimate of prediction {pk}",
        "prediction": prediction,
        "overrides": list(selectors.charge_overrides_of(prediction_id=pk)),
        "form": form,
    }
    if request.method == "POST" and form.is_valid():
        try:
            override = services.charge_override_record(
                prediction_id=pk, reviewed_charges=form.cleaned_data["reviewed_charges"],
                reason=form.cleaned_data["reason"], user=request.user, channel=ChargeOverride.Channel.ADMIN,
            )
        except services.PredictionNotFound as exc:  # deleted since the page was read
            raise Http404(str(exc)) from exc
        except ValidationError as exc:
            _errors_shown(form, exc)
        else:
            messages.success(
                request,
                f"Prediction {pk}: the reviewed charge ${override.reviewed_charges:,} is recorded over "
                f"${override.previous_charges:,}; the model's estimate ${prediction.predicted_charges:,} is kept.",
            )
            return redirect("admin:predictor_prediction_change", pk)
    status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
    return TemplateResponse(request, "admin/predictor/charge_override.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
def serving_control(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """GET shows whether the service runs, with the recent record; a POST pauses or resumes it (with a reason)."""
    form = ServingChangeForm(request.POST) if request.method == "POST" else ServingChangeForm()
    action = request.POST.get("action") if request.method == "POST" else None
    if request.method == "POST" and action not in ("pause", "resume"):
        form.add_error(None, "Choose to pause or to resume the service.")
    elif request.method == "POST" and form.is_valid():
        change = services.serving_pause if action == "pause" else services.serving_resume
        try:
            toggle = change(reason=form.cleaned_data["reason"], user=request.user, channel=ServingChange.Channel.ADMIN)
        except ValidationError as exc:
            _errors_shown(form, exc)
        else:
            _toggle_message(request, action, toggle)
            return redirect("admin:predictor_serving")
    changes = list(selectors.serving_changes()[:RECENT_CHANGES])
    context = {
        **admin_context,
        "opts": ServingChange._meta,
        "title": "Pause or resume the service",
        "form": form,
        "latest": changes[0] if changes else None,
        "paused": bool(changes) and changes[0].kind == ServingChange.Kind.PAUSE,
        "changes": changes,
        "ttl": settings.PREDICTOR_PAUSE_TTL,
    }
    status = HTTPStatus.BAD_REQUEST if request.method == "POST" else HTTPStatus.OK
    return TemplateResponse(request, "admin/predictor/serving.html", context, status=status)


def _toggle_message(request: HttpRequest, action: str, toggle: services.ServingToggle) -> None:
    ttl = f"{settings.PREDICTOR_PAUSE_TTL:g}"
    if toggle.changed and action == "pause":
        messages.success(request, f"The service is paused: no prediction is made or stored anywhere within {ttl} seconds.")
    elif toggle.changed:
        messages.success(request, f"The service is resumed: predictions are made again everywhere within {ttl} seconds.")
    elif action == "pause":
        since = toggle.record.created_at
        messages.warning(request, f"The service was already paused (since {since:%Y-%m-%d %H:%M:%S} UTC); nothing changed.")
    else:
        messages.warning(request, "The service was already running; nothing changed.")
