"""The staff page "Champion and challenger" in the admin (``predictor.sites`` mounts and guards it): the comparison's
figures, the segment table, the charts, the rule in words, the history of model changes, and a Promote button.
Thin: call the service, render."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from ..ml import compare
from ..ml.artifacts import ModelArtifactError
from ..ml.stats import COVERAGE_FLOOR
from ..models import ModelChange
from ..security import access_log
from ..security.permissions import MODEL_CHANGE_PERMISSION
from . import charts, selectors, services

# The page shows this many of the latest model changes.
HISTORY_SHOWN = 100


class PromoteForm(forms.Form):
    reason = forms.CharField(
        max_length=2000, strip=True, widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Why the challenger should serve now; recorded with the change and its evidence.",
    )


def _history() -> list[dict[str, Any]]:
    return [
        {"change": change, "evidence": json.dumps(change.evidence, indent=2, cls=DjangoJSONEncoder) if change.evidence else ""}
        for change in selectors.model_change_history()[:HISTORY_SHOWN]
    ]


@require_http_methods(["GET", "HEAD", "POST"])
def comparison(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """The champion against the challenger on actual charges; POST promotes the challenger by the rule."""
    can_promote = request.user.has_perm(MODEL_CHANGE_PERMISSION)
    if request.method == "POST":
        if not can_promote:
            raise PermissionDenied('Promoting the challenger is for staff with the "Can set the challenger and change the serving model" permission.')
        return _promote(request)
    context = {
        **admin_context,
        "opts": ModelChange._meta,
        "title": "Champion and challenger",
        "history": _history(),
        "can_promote": can_promote,
        "form": PromoteForm(),
        "coverage_floor": COVERAGE_FLOOR,
        "coverage_ceiling": compare.COVERAGE_CEILING,
    }
    champion, challenger = selectors.champion_and_challenger()
    context.update(champion=champion, challenger=challenger)
    try:
        result = services.model_comparison(request=request)
    except services.ComparisonUnavailable as exc:
        context["unavailable"] = str(exc)
        return TemplateResponse(request, "admin/predictor/comparison.html", context)
    except access_log.AccessLogUnavailable as exc:
        context["unavailable"] = str(exc)
        return TemplateResponse(request, "admin/predictor/comparison.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    figures = result.figures
    context.update(
        figures=figures,
        rule=figures["rule"],
        verdict_label=compare.VERDICT_LABELS[figures["verdict"]],
        differences_chart=charts.differences_svg(result.differences, figures["difference"], figures["margin"]),
        segments_chart=charts.segments_svg(figures["segments"], figures["margin"]),
        promotable=figures["verdict"] in services.PROMOTABLE,
    )
    return TemplateResponse(request, "admin/predictor/comparison.html", context)


def _promote(request: HttpRequest) -> HttpResponse:
    here = reverse("admin:predictor_modelchange_comparison")
    form = PromoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Give a reason for the promotion; nothing changed.")
        return HttpResponseRedirect(here)
    try:
        promotion = services.challenger_promote(user=request.user, reason=form.cleaned_data["reason"], request=request)
    except (services.ComparisonUnavailable, services.PromotionRefused, access_log.AccessLogUnavailable) as exc:
        messages.error(request, str(exc))
    except (ModelArtifactError, ValidationError, DatabaseError) as exc:
        messages.error(request, f"The challenger was not promoted: {exc} Nothing changed.")
    else:
        verdict = compare.VERDICT_LABELS[promotion.comparison.verdict]
        messages.success(
            request,
            f"The challenger {promotion.version.name} is now the champion (verdict: {verdict}); the change is recorded below "
            "with its evidence.",
        )
    return HttpResponseRedirect(here)
