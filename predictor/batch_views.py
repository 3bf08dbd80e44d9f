"""The staff page that scores a CSV file: upload, score through the services, download the result."""

from __future__ import annotations

import logging
from http import HTTPStatus
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_http_methods

from . import batch, pipeline

logger = logging.getLogger(__name__)

# A page shows this many problems of a rejected file, then says how many more there are.
PROBLEMS_SHOWN = 100


class BatchUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the reader says what an empty file lacks
        help_text=f"A header line naming the columns {', '.join(batch.COLUMNS)}, then one patient a line.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )


def _limits() -> dict[str, str]:
    return {
        "max_rows": f"{settings.PREDICTOR_BATCH_PAGE_MAX_ROWS:,}",
        "max_size": filesizeformat(settings.PREDICTOR_BATCH_PAGE_MAX_BYTES),
    }


@require_http_methods(["GET", "POST"])
@staff_member_required
@permission_required("predictor.add_batch", raise_exception=True)
def batch_upload(request: HttpRequest) -> HttpResponse:
    """GET shows the form; a good file answers the same CSV with a predicted_charges column; a bad one lists why."""
    form = BatchUploadForm(request.POST, request.FILES) if request.method == "POST" else BatchUploadForm()
    context = {"form": form, "columns": batch.COLUMNS, **_limits()}
    if request.method != "POST" or not form.is_valid():
        status = HTTPStatus.BAD_REQUEST if form.is_bound else HTTPStatus.OK
        return render(request, "predictor/batch_upload.html", context, status=status)
    upload = form.cleaned_data["file"]
    file_name = PurePath(upload.name).name
    try:
        if upload.size > settings.PREDICTOR_BATCH_PAGE_MAX_BYTES:
            raise batch.BatchFileError(
                [
                    f"The file is {filesizeformat(upload.size)}; this page takes files up to {context['max_size']}. "
                    "Split it, or use `manage.py predict_csv`, which has no limit."
                ]
            )
        text = batch.csv_decode(upload.read())
        table = batch.csv_read(text.splitlines(keepends=True), max_rows=settings.PREDICTOR_BATCH_PAGE_MAX_ROWS)
        scored, predictions = batch.batch_score(table=table, file_name=file_name, created_by=request.user)
    except batch.BatchFileError as exc:
        context.update(
            problems=exc.problems[:PROBLEMS_SHOWN],
            more_problems=max(0, len(exc.problems) - PROBLEMS_SHOWN),
            bad_rows=exc.bad_rows,
            file_name=file_name,
        )
        return render(request, "predictor/batch_upload.html", context, status=HTTPStatus.BAD_REQUEST)
    except (DatabaseError, pipeline.ModelArtifactError):
        logger.exception("Could not score the batch file %s", file_name)
        context.update(problems=["The file could not be scored right now (database or model unavailable); nothing was stored."])
        return render(request, "predictor/batch_upload.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    stem = PurePath(file_name).stem or "batch"
    logger.info("Batch %s: %s rows from %s scored by %s", scored.pk, scored.row_count, file_name, request.user)
    return HttpResponse(
        batch.csv_text(table, predictions),
        content_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{stem}-predicted.csv"',
            "X-Batch-Id": str(scored.pk),
        },
    )
