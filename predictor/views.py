"""HTML views: bind the form, call the service, render. No logic of their own."""

import logging
from http import HTTPStatus

from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import pipeline, selectors, services
from .forms import PredictionForm
from .models import Prediction

logger = logging.getLogger(__name__)

EXTRAPOLATION_LABELS = {"age": "Age", "bmi": "BMI", "children": "Children covered"}


@require_http_methods(["GET", "POST"])
def predict(request: HttpRequest) -> HttpResponse:
    """The public form; a valid POST is predicted, stored, then redirected to its result (post/redirect/get)."""
    form = PredictionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            prediction = services.prediction_create(**form.cleaned_data, source=Prediction.Source.WEB)
        except DatabaseError:
            logger.exception("Could not store a prediction")
            return _unavailable(request, "We could not record your estimate, so we are not showing one.")
        except pipeline.ModelArtifactError:
            logger.exception("The model is not available")
            return _unavailable(request, "The prediction model is not available right now.")
        return redirect("predictor:result", token=selectors.prediction_result_token(prediction))
    status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
    return render(request, "predictor/predict.html", {"form": form}, status=status)


@require_GET
@never_cache
def result(request: HttpRequest, token: str) -> HttpResponse:
    """A stored prediction's result page, reachable only through its signed link."""
    prediction = selectors.prediction_get_by_result_token(token)
    if prediction is None:
        raise Http404("This result link is not valid or has expired.")
    ranges = prediction.model_version.card.get("training_ranges", {})
    extrapolated = [
        {
            "label": EXTRAPOLATION_LABELS[name],
            "value": getattr(prediction, name),
            "low": f"{ranges[name][0]:g}",
            "high": f"{ranges[name][1]:g}",
        }
        for name in services.prediction_extrapolated_features(prediction)
    ]
    context = {
        "prediction": prediction,
        "extrapolated": extrapolated,
        "interval_group": services.prediction_interval_group(prediction),
    }
    return render(request, "predictor/result.html", context)


def _unavailable(request: HttpRequest, message: str) -> HttpResponse:
    return render(request, "503.html", {"message": message}, status=HTTPStatus.SERVICE_UNAVAILABLE)


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers and the active model version's verified artifact is loaded."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except DatabaseError as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        if checks["database"] == "ok":
            checks["model_version"] = services.model_serving()[1].name  # the active version, verified
        else:
            checks["model_version"] = pipeline.get_model().name  # at least the default artifact loads
        checks["model"] = "ok"
    except pipeline.ModelArtifactError as exc:
        checks["model"] = f"error: {exc}"
    except DatabaseError as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
        checks["model"] = "unknown: the active model version could not be read"
    ready = checks["database"] == "ok" and checks["model"] == "ok"
    checks["status"] = "ok" if ready else "unavailable"
    return JsonResponse(checks, status=HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE)
