"""Every HTML route of the app: bind the form, call the service or selector, render. No logic of their own."""

from __future__ import annotations

import logging
from functools import wraps
from http import HTTPStatus
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.db import Error as DatabaseDriverError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.template.defaultfilters import filesizeformat
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from . import access_log, csv_io, ratelimit, selectors, serving, services
from .forms import PredictionForm
from .ml.artifacts import ModelArtifactError, get_model
from .models import Prediction

logger = logging.getLogger(__name__)

# What the public is told when a prediction cannot be made or stored.
UNAVAILABLE_MESSAGES = {
    "database": _("We could not record your estimate, so we are not showing one."),
    "model": _("The prediction model is not available right now."),
}


def _unavailable(request: HttpRequest, kind: str) -> HttpResponse:
    return render(request, "503.html", {"message": UNAVAILABLE_MESSAGES[kind]}, status=HTTPStatus.SERVICE_UNAVAILABLE)


def anonymous_rate_limited(view):
    """A POST counts against the client address's rate limit (``predictor.ratelimit``); over it, the 429 page
    with Retry-After, and nothing is stored. A GET is not counted.

    The view gets the count as ``request.rate_limit_charge``: a valid prediction is counted in the
    same statement that stores it, and a POST that ended any other way is counted when it ends."""

    @wraps(view)
    def limited(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        charge = request.rate_limit_charge = ratelimit.anonymous_charge(request)
        try:
            response = view(request, *args, **kwargs)  # RateLimited when the INSERT's own count refused it
            if charge.decision is None:  # it ended without storing a prediction: counted now
                charge.check()
        except ratelimit.RateLimited as exc:
            response = render(request, "429.html", {"retry_after": exc.retry_after}, status=HTTPStatus.TOO_MANY_REQUESTS)
            response["Retry-After"] = str(exc.retry_after)
        except DatabaseDriverError:  # the view answers its own database errors: this is the count's
            logger.exception("The rate limit could not be checked")
            return _unavailable(request, "database")
        return response

    return limited


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
        logger.exception("No prediction made for the form")
        return _unavailable(request, exc.kind)
    return redirect("predictor:result", token=selectors.prediction_result_token(prediction))


@require_safe
@never_cache
def result(request: HttpRequest, token: str) -> HttpResponse:
    """A stored prediction's result page, reachable only through its signed link."""
    prediction = selectors.prediction_get_by_result_token(token)
    if prediction is None:
        raise Http404("This result link is not valid or has expired.")
    explanation = selectors.prediction_explain(prediction)
    context = {
        "prediction": prediction,
        "extrapolated": explanation.extrapolated,
        "interval_group": explanation.interval_group,
        "drivers": selectors.prediction_drivers(prediction),
        "what_ifs": selectors.prediction_what_ifs(prediction),
    }
    return render(request, "predictor/result.html", context)


# ---------------------------------------------------------------------------
# The staff page that scores a CSV file

# A page shows this many problems of a rejected file, then says how many more there are.
PROBLEMS_SHOWN = 100


class BatchUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the reader says what an empty file lacks
        help_text=f"A header line naming the columns {', '.join(csv_io.COLUMNS)}, then one patient a line.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@staff_member_required
@permission_required("predictor.add_batch", raise_exception=True)
def batch_upload(request: HttpRequest) -> HttpResponse:
    """GET shows the form; a good file answers the same CSV with a predicted_charges column; a bad one lists why."""
    form = BatchUploadForm(request.POST, request.FILES) if request.method == "POST" else BatchUploadForm()
    context = {
        "form": form,
        "columns": csv_io.COLUMNS,
        "max_rows": f"{settings.PREDICTOR_BATCH_PAGE_MAX_ROWS:,}",
        "max_size": filesizeformat(settings.PREDICTOR_BATCH_PAGE_MAX_BYTES),
    }
    if request.method != "POST" or not form.is_valid():
        status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
        return render(request, "predictor/batch_upload.html", context, status=status)
    upload = form.cleaned_data["file"]
    file_name = PurePath(upload.name).name
    try:
        table = csv_io.upload_read(upload, command="predict_csv", max_rows=settings.PREDICTOR_BATCH_PAGE_MAX_ROWS)
        with transaction.atomic():  # no download without its access log entry: the batch is undone without one
            scored, predictions = csv_io.batch_score(table=table, file_name=file_name, created_by=request.user)
            access_log.access_log_record(
                request=request, action=access_log.Action.BATCH_DOWNLOAD,
                filters={"file_name": file_name, "batch": scored.pk}, row_count=scored.row_count,
            )
    except csv_io.BatchFileError as exc:
        context.update(
            problems=exc.problems[:PROBLEMS_SHOWN],
            more_problems=max(0, len(exc.problems) - PROBLEMS_SHOWN),
            bad_rows=exc.bad_rows,
            file_name=file_name,
        )
        return render(request, "predictor/batch_upload.html", context, status=HTTPStatus.BAD_REQUEST)
    except services.PredictionUnavailable:
        logger.exception("Could not score the batch file %s", file_name)
        context["problems"] = ["The file could not be scored right now (database or model unavailable); nothing was stored."]
        return render(request, "predictor/batch_upload.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    except access_log.AccessLogUnavailable as exc:
        context["problems"] = [str(exc)]
        return render(request, "predictor/batch_upload.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    stem = PurePath(file_name).stem or "batch"
    logger.info("Batch %s: %s rows from %s scored by %s", scored.pk, scored.row_count, file_name, request.user)
    return HttpResponse(
        csv_io.csv_text(table, predictions),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{stem}-predicted.csv"',
            "X-Batch-Id": str(scored.pk),
        },
    )


# ---------------------------------------------------------------------------
# Health


@require_safe
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers and the active model version's verified artifact is loaded. Only reads."""
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
    ready = checks["database"] == "ok" and checks["model"] == "ok"
    checks["status"] = "ok" if ready else "unavailable"
    return JsonResponse(checks, status=HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE)
