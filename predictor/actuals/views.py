"""The staff page that records a CSV file of actual charges, in the admin (``predictor.sites`` mounts
and guards it). Thin: bind the form, call the service, render."""

from __future__ import annotations

import logging
from http import HTTPStatus
from pathlib import PurePath
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat, pluralize
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from .. import csv_io
from ..csv_io import CsvFileError
from ..models import ActualChargeChange, Prediction
from .files import actuals_file_record, actuals_upload_read
from .forms import ActualsUploadForm

logger = logging.getLogger(__name__)


@require_http_methods(["GET", "HEAD", "POST"])
def actuals_upload(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """GET shows the form; a good file is recorded whole and the page says what changed; a bad one lists why."""
    form = ActualsUploadForm(request.POST, request.FILES) if request.method == "POST" else ActualsUploadForm()
    max_size = filesizeformat(settings.PREDICTOR_BATCH_PAGE_MAX_BYTES)
    context = {
        **admin_context,
        "opts": Prediction._meta,
        "title": "Record actual charges from a CSV file",
        "form": form,
        "max_size": max_size,
    }
    if request.method != "POST" or not form.is_valid():
        status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
        return TemplateResponse(request, "admin/predictor/actuals_upload.html", context, status=status)
    upload = form.cleaned_data["file"]
    file_name = PurePath(upload.name).name
    try:
        table = actuals_upload_read(upload)
        result = actuals_file_record(
            table=table, recorded_by=request.user, channel=ActualChargeChange.Channel.UPLOAD
        )
    except CsvFileError as exc:
        context.update(csv_io.problems_shown(exc), file_name=file_name)
        return TemplateResponse(request, "admin/predictor/actuals_upload.html", context, status=HTTPStatus.BAD_REQUEST)
    logger.info(
        "Actual charges from %s by %s: %s rows, %s changed", file_name, request.user, result.rows, result.changed
    )
    messages.success(
        request,
        f"Recorded {file_name}: {result.rows:,} row{pluralize(result.rows)} read; {result.changed:,} actual "
        f"charge{pluralize(result.changed)} recorded or changed, {result.unchanged:,} already had that value.",
    )
    return redirect("admin:predictor_prediction_actuals")
