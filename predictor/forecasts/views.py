"""The staff page "Forecast": a group's total charges, from an uploaded file or a filter of stored predictions.

Mounted and guarded by the admin site (``predictor.sites``), like every staff page. Thin: bind
a form, call the forecast's services, render. A file is forecast without being stored unless the box asking for it is ticked (then it is scored as a batch first); a filter is a
GET, so "this month's admissions" is a link. The breakdown downloads as CSV from the page itself.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from http import HTTPStatus
from pathlib import PurePath
from typing import Any

from django import forms
from django.conf import settings
from django.db import Error as DatabaseDriverError
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .. import csv_io, services
from ..batches import files as batch_files
from ..models import ModelVersion, Prediction
from ..security import access_log
from .cohorts import StoredFilter
from .presentation import forecast_page
from .services import DEFAULT_SEED, ForecastError, ForecastNotFound, forecast_from_stored, forecast_from_table

logger = logging.getLogger(__name__)
ANY = [("", "any")]


class ForecastUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file of patients",
        allow_empty_file=True,
        help_text=f"The batch files' columns: a header naming {', '.join(batch_files.COLUMNS)}, then one patient a line.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )
    store = forms.BooleanField(
        label="Also store these patients' predictions as a batch", required=False,
        help_text="Unticked, nothing is stored.",
    )
    seed = forms.IntegerField(label="Seed of the chart's draws", min_value=0, max_value=2**32 - 1, initial=DEFAULT_SEED, required=False)


def _model_version_choices() -> list[tuple[str, str]]:
    """Any, then every registered model version by name (read each time a form is made)."""
    return ANY + [(name, name) for name in ModelVersion.objects.order_by("name").values_list("name", flat=True)]


class ForecastFilterForm(forms.Form):
    cohort = forms.CharField(widget=forms.HiddenInput, initial="stored")
    since = forms.DateField(label="Made from", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                            help_text="The first day included (UTC).")
    until = forms.DateField(label="to", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                            help_text="The last day included (UTC).")
    region = forms.ChoiceField(choices=ANY + Prediction.Region.choices, required=False)
    smoker = forms.ChoiceField(choices=ANY + Prediction.Smoker.choices, required=False)
    source = forms.ChoiceField(choices=ANY + Prediction.Source.choices, required=False)
    batch = forms.IntegerField(label="Batch id", min_value=1, max_value=2**63 - 1, required=False)
    model_version = forms.ChoiceField(label="Made by model version", required=False, choices=_model_version_choices)
    seed = forms.IntegerField(label="Seed of the chart's draws", min_value=0, max_value=2**32 - 1, required=False)

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and until < since:
            raise forms.ValidationError("The last day comes before the first.")
        return cleaned

    def stored_filter(self) -> StoredFilter:
        data = self.cleaned_data

        def start_of(day: date | None) -> datetime | None:
            return None if day is None else datetime.combine(day, time.min, tzinfo=dt_timezone.utc)

        until = data.get("until")
        return StoredFilter(
            since=start_of(data.get("since")),
            until=start_of(until + timedelta(days=1)) if until else None,
            region=data.get("region") or None,
            smoker=data.get("smoker") or None,
            source=data.get("source") or None,
            batch=data.get("batch"),
            model_version=data.get("model_version") or None,
        )


def _month_links() -> list[tuple[str, str]]:
    """(label, query) for this month's and last month's predictions."""
    today = timezone.now().astimezone(dt_timezone.utc).date()
    first = today.replace(day=1)
    previous_last = first - timedelta(days=1)
    return [
        ("This month", f"cohort=stored&since={first:%Y-%m-%d}&until={today:%Y-%m-%d}"),
        ("Last month", f"cohort=stored&since={previous_last.replace(day=1):%Y-%m-%d}&until={previous_last:%Y-%m-%d}"),
    ]


def _model_facts(version_name: str) -> dict:
    """What the page says about the forecasting model: its calibration and its training ranges."""
    card = ModelVersion.objects.filter(name=version_name).values_list("card", flat=True).first() or {}
    ranges = card.get("training_ranges", {})
    return {
        "calibration": card.get("cohort_calibration"),
        "training_ranges": ", ".join(
            f"{name} {low:g} to {high:g}" for name, (low, high) in ranges.items()
        ),
    }


@require_http_methods(["GET", "HEAD", "POST"])
def forecast(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """GET shows the forms (and, with a filter, its forecast); POST forecasts an uploaded file."""
    upload = ForecastUploadForm(request.POST, request.FILES) if request.method == "POST" else ForecastUploadForm()
    filters = ForecastFilterForm(request.GET if request.GET.get("cohort") == "stored" else None)
    context = {
        **admin_context,
        "title": "Forecast",
        "upload": upload,
        "filters": filters,
        "month_links": _month_links(),
        "max_size": filesizeformat(settings.PREDICTOR_BATCH_PAGE_MAX_BYTES),
        "max_rows": f"{settings.PREDICTOR_BATCH_PAGE_MAX_ROWS:,}",
    }
    status = HTTPStatus.OK
    try:
        if request.method == "POST":
            if not upload.is_valid():
                status = HTTPStatus.BAD_REQUEST
            else:
                context["file_name"] = PurePath(upload.cleaned_data["file"].name).name
                with transaction.atomic():  # a batch stored on the way is undone if the access cannot be recorded
                    page, logged = _file_forecast(upload, user=request.user)
                    access_log.access_log_record(
                        request=request, action=access_log.Action.FORECAST_FILE, row_count=page["result"]["patients"],
                        filters=logged,
                    )
                context.update(page)
        elif filters.is_bound:
            if not filters.is_valid():
                status = HTTPStatus.BAD_REQUEST
            else:
                seed = filters.cleaned_data.get("seed")
                with transaction.atomic():  # a failed query rolls back to here, and the page can still be drawn
                    result = forecast_from_stored(
                        filters.stored_filter(), seed=DEFAULT_SEED if seed is None else seed
                    )
                page = forecast_page(result)
                access_log.access_log_record(
                    request=request, action=access_log.Action.FORECAST_STORED, row_count=result.patients,
                    filters={
                        name: value for name, value in filters.cleaned_data.items()
                        if name != "cohort" and value not in (None, "")
                    },
                )
                context.update(page)
    except csv_io.CsvFileError as exc:
        status = HTTPStatus.BAD_REQUEST
        context.update(csv_io.problems_shown(exc))
    except ForecastNotFound as exc:
        status = HTTPStatus.NOT_FOUND
        context["problems"] = [str(exc)]
    except ForecastError as exc:
        status = HTTPStatus.BAD_REQUEST
        context["problems"] = [str(exc)]
    except services.PredictionUnavailable as exc:
        logger.exception("Could not store the file to forecast")
        status = HTTPStatus.SERVICE_UNAVAILABLE
        context["problems"] = ["The file could not be stored right now (database or model unavailable); nothing was stored."]
        if exc.kind == "paused":
            context["problems"] = [f"Nothing was stored: {exc}."]
    except access_log.AccessLogUnavailable as exc:
        status = HTTPStatus.SERVICE_UNAVAILABLE
        context["problems"] = [str(exc)]
    except DatabaseDriverError:
        logger.exception("Could not read the stored predictions to forecast")
        status = HTTPStatus.SERVICE_UNAVAILABLE
        context["problems"] = ["The stored predictions cannot be read right now (the database did not answer). Try again shortly."]
    if "result" in context:
        context.update(_model_facts(context["result"]["model_version"]))
    return render(request, "admin/predictor/forecast.html", context, status=status)


def _file_forecast(upload: ForecastUploadForm, *, user) -> tuple[dict, dict]:
    """Forecast an uploaded file, storing it as a batch first when asked: the page's figures, and what the
    access log records of the request."""
    file = upload.cleaned_data["file"]
    file_name = PurePath(file.name).name
    store = upload.cleaned_data["store"]
    table = csv_io.upload_read(
        file, command="forecast", kind=batch_files.PATIENTS, max_rows=settings.PREDICTOR_BATCH_PAGE_MAX_ROWS if store else None
    )
    seed = upload.cleaned_data.get("seed")
    seed = DEFAULT_SEED if seed is None else seed
    page = forecast_page(forecast_from_table(table, file_name=file_name, seed=seed))
    logged = {"file_name": file_name, "store": store, "seed": seed}
    if store:
        batch = batch_files.batch_score(table=table, file_name=file_name, created_by=user)
        page["stored_batch"] = batch
        logged["batch"] = batch.pk
    return page, logged
