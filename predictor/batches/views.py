"""The staff page that scores a CSV file of patients as a batch and answers the file with a
``predicted_charges`` column; in the admin (``predictor.sites`` mounts and guards it). Thin."""

from __future__ import annotations

import io
import logging
from http import HTTPStatus
from pathlib import PurePath
from typing import Any

from django import forms
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_http_methods

from .. import csv_io, services
from ..models import Batch
from ..security import access_log
from .files import COLUMNS, PATIENTS, batch_score_chunks

logger = logging.getLogger(__name__)


class BatchUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the reader says what an empty file lacks
        help_text=f"A header line naming the columns {', '.join(COLUMNS)}, then one patient a line.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )


@require_http_methods(["GET", "HEAD", "POST"])
def batch_upload(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """GET shows the form; a good file answers the same CSV with a predicted_charges column; a bad one lists why."""
    form = BatchUploadForm(request.POST, request.FILES) if request.method == "POST" else BatchUploadForm()
    context = {
        **admin_context,
        "opts": Batch._meta,
        "title": "Score a CSV file of patients",
        "form": form,
        "columns": COLUMNS,
        "max_rows": f"{settings.PREDICTOR_BATCH_PAGE_MAX_ROWS:,}",
        "max_size": filesizeformat(settings.PREDICTOR_BATCH_PAGE_MAX_BYTES),
    }
    if request.method != "POST" or not form.is_valid():
        status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
        return render(request, "predictor/batch_upload.html", context, status=status)
    upload = form.cleaned_data["file"]
    file_name = PurePath(upload.name).name
    try:
        lines = csv_io.upload_lines(upload, command="predict_csv")
        chunks = csv_io.csv_chunks(lines, kind=PATIENTS, max_rows=settings.PREDICTOR_BATCH_PAGE_MAX_ROWS)
        scored_csv = io.StringIO()  # at most the page's row limit
        with transaction.atomic():  # no download without its access log entry: the batch is undone without one
            scored = batch_score_chunks(chunks=chunks, file_name=file_name, created_by=request.user, out=scored_csv)
            access_log.access_log_record(
                request=request, action=access_log.Action.BATCH_DOWNLOAD,
                filters={"file_name": file_name, "batch": scored.pk}, row_count=scored.row_count,
            )
    except csv_io.CsvFileError as exc:
        context.update(csv_io.problems_shown(exc), file_name=file_name)
        return render(request, "predictor/batch_upload.html", context, status=HTTPStatus.BAD_REQUEST)
    except services.PredictionUnavailable as exc:
        logger.exception("Could not score the batch file %s", file_name)
        context["problems"] = ["The file could not be scored right now (database or model unavailable); nothing was stored."]
        if exc.kind == "paused":
            context["problems"] = [f"Nothing was stored: {exc}."]
        return render(request, "predictor/batch_upload.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    except access_log.AccessLogUnavailable as exc:
        context["problems"] = [str(exc)]
        return render(request, "predictor/batch_upload.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    stem = PurePath(file_name).stem or "batch"
    logger.info("Batch %s: %s rows from %s scored by %s", scored.pk, scored.row_count, file_name, request.user)
    return HttpResponse(
        scored_csv.getvalue(),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{stem}-predicted.csv"',
            "X-Batch-Id": str(scored.pk),
        },
    )
