"""The public HTML routes: the form, its result page and the health check. Bind the form, call the service
or selector, render; no logic of their own. Staff pages live with their domain and are mounted in the admin."""

from __future__ import annotations

import logging
from http import HTTPStatus

from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from . import explanations, selectors, services, serving
from .forms import PredictionForm
from .ml.artifacts import ModelArtifactError, get_model
from .models import Prediction
from .oversight import selectors as oversight_selectors
from .security.guards import anonymous_rate_limited, unavailable_page

logger = logging.getLogger(__name__)

@require_http_methods(["GET", "HEAD", "POST"])
@anonymous_rate_limited
def predict(request: HttpRequest) -> HttpResponse:
    """The public form; a valid POST is predicted, stored, then redirected to its result (post/redirect/get).

    A POST is cleaned by the form's own fields (``services.prediction_input_clean``, what binding
    the form does); the form itself is built only to show the page, with its errors when there are some.
    """
    if request.method != "POST" or not request.POST:  # an empty POST shows the empty form, as a GET does
        return render(request, "predictor/predict.html", {"form": PredictionForm()})
    try:
        inputs = services.prediction_input_clean(request.POST)
    except ValidationError:
        form = PredictionForm(request.POST)
        return render(request, "predictor/predict.html", {"form": form}, status=HTTPStatus.BAD_REQUEST)
    try:
        prediction = services.prediction_create_cleaned(
            inputs=inputs, source=Prediction.Source.WEB, rate_limit=request.rate_limit_charge
        )
    except services.PredictionUnavailable as exc:
        if exc.kind != "paused":  # a pause is staff's decision, not a fault
            logger.exception("No prediction made for the form")
        return unavailable_page(request, exc.kind)
    return redirect("predictor:result", token=selectors.prediction_result_token(prediction))


@require_safe
@never_cache
def result(request: HttpRequest, token: str) -> HttpResponse:
    """A stored prediction's result page, reachable only through its signed link."""
    prediction = selectors.prediction_get_by_result_token(token)
    if prediction is None:
        raise Http404("This result link is not valid or has expired.")
    explanation = explanations.prediction_explain(prediction)
    context = {
        "prediction": prediction,
        "extrapolated": explanation.extrapolated,
        "interval_group": explanation.interval_group,
        "drivers": explanations.prediction_drivers(prediction),
        "what_ifs": explanations.prediction_what_ifs(prediction),
        # A reviewed charge staff recorded over the estimate, shown apart from it (the estimate is kept).
        "review": oversight_selectors.charge_override_latest(prediction_id=prediction.pk),
    }
    return render(request, "predictor/result.html", context)


# ---------------------------------------------------------------------------
# Health


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers and the active model version's verified artifact is loaded. Only reads.

    A pause (``manage.py serving_pause``) is reported, not a failure: the task is healthy and answers
    200, so the load balancer keeps it; ``serving`` says ``paused`` (with since when) or ``running``.
    """
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        if checks["database"] == "ok":
            checks["model_version"] = serving.model_serving()[1].name  # the active version, verified
        else:
            checks["model_version"] = get_model().name  # at least the default artifact loads
        checks["model"] = "ok"
    except ModelArtifactError as exc:
        checks["model"] = f"error: {exc}"
    except DatabaseError as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
        checks["model"] = "unknown: the active model version could not be read"
    if checks["database"] == "ok":
        try:
            pause = serving.serving_pause_state()
            checks["serving"] = "paused" if pause.paused else "running"
            if pause.paused:
                checks["paused_since"] = pause.since.isoformat()
        except DatabaseError as exc:
            checks["database"] = f"error: {exc.__class__.__name__}"
    checks.setdefault("serving", "unknown: the pause could not be read")
    ready = checks["database"] == "ok" and checks["model"] == "ok"
    checks["status"] = "ok" if ready else "unavailable"
    return JsonResponse(checks, status=HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE)


# ---------------------------------------------------------------------------
# Staff pages that moved into the admin: their old paths answer with a permanent redirect that keeps
# the method and the query (308), so bookmarks, links and scripts posting to them keep working.


def moved_to_admin(name: str):
    """A view answering 308 to the admin page ``admin:NAME``, with the request's query string."""

    def moved(request: HttpRequest) -> HttpResponsePermanentRedirect:
        query = request.META.get("QUERY_STRING", "")
        response = HttpResponsePermanentRedirect(reverse(f"admin:{name}") + (f"?{query}" if query else ""))
        response.status_code = HTTPStatus.PERMANENT_REDIRECT
        return response

    return moved
