"""The staff pages of monitoring, served inside the admin (``PredictionAdmin.get_urls`` routes them):
the monitoring page and the page that records a CSV file of actual charges. Thin: bind a form, call the
selector or the service, render."""

from __future__ import annotations

import logging
from http import HTTPStatus
from pathlib import PurePath

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat, pluralize
from django.template.response import TemplateResponse

from .. import access_log, actuals
from ..ml import stats
from ..models import ActualChargeChange, ModelVersion
from . import charts, queries
from .report import MonitoringUnavailable, monitoring_report

logger = logging.getLogger(__name__)

RECORD_PERMISSION = "predictor.record_actual_charges"
# A page shows this many problems of a rejected file, then says how many more there are.
PROBLEMS_SHOWN = 100


class MonitoringFilterForm(forms.Form):
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Predictions made on or after this day (UTC).",
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Predictions made on or before this day (UTC).",
    )
    model = forms.ModelChoiceField(
        queryset=ModelVersion.objects.order_by("name"), to_field_name="name", required=False,
        empty_label="all model versions", label="Model version",
    )

    def clean(self):
        cleaned = super().clean()
        since, until = cleaned.get("since"), cleaned.get("until")
        if since and until and since > until:
            raise forms.ValidationError("The period's first day comes after its last day.")
        return cleaned


def monitoring_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """Accuracy, calibration and drift for a period and a model version, with charts and alerts."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    form = MonitoringFilterForm(request.GET or None)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Monitoring: accuracy, calibration and drift",
        "form": form,
        "min_actuals": stats.MIN_ACTUALS,
        "coverage_floor": stats.COVERAGE_FLOOR,
        "bias_share": stats.BIAS_SHARE,
        "psi_watch": stats.PSI_WATCH,
        "psi_drift": stats.PSI_DRIFT,
        "chart_points": queries.CHART_POINTS,
        "can_record": request.user.has_perm(RECORD_PERMISSION),
    }
    if form.is_bound and not form.is_valid():
        return TemplateResponse(request, "admin/predictor/monitoring.html", context, status=HTTPStatus.BAD_REQUEST)
    filters = form.cleaned_data if form.is_bound else {}
    try:
        report = monitoring_report(
            since=filters.get("since"), until=filters.get("until"), model_version=filters.get("model")
        )
    except MonitoringUnavailable as exc:
        context["unavailable"] = str(exc)
        return TemplateResponse(request, "admin/predictor/monitoring.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    try:
        access_log.access_log_record(
            request=request, action=access_log.Action.MONITORING, row_count=report.predictions,
            filters={"since": report.since, "until": report.until, "model": report.model},
        )
    except access_log.AccessLogUnavailable as exc:
        context["unavailable"] = str(exc)
        return TemplateResponse(request, "admin/predictor/monitoring.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE)
    context.update(
        report=report,
        scatter=charts.scatter_svg(report.points),
        monthly=charts.monthly_svg(report.by_month),
        volume=charts.volume_svg(report.volume),
    )
    return TemplateResponse(request, "admin/predictor/monitoring.html", context)


class ActualsUploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        allow_empty_file=True,  # the reader says what an empty file lacks
        help_text="A header line naming the columns prediction_id and actual_charges, then one prediction a line.",
        widget=forms.FileInput(attrs={"accept": ".csv,text/csv"}),
    )


def actuals_upload_view(model_admin: admin.ModelAdmin, request: HttpRequest) -> HttpResponse:
    """GET shows the form; a good file is recorded whole and the page says what changed; a bad one lists why."""
    if not request.user.has_perm(RECORD_PERMISSION):
        raise PermissionDenied
    form = ActualsUploadForm(request.POST, request.FILES) if request.method == "POST" else ActualsUploadForm()
    max_size = filesizeformat(settings.PREDICTOR_BATCH_PAGE_MAX_BYTES)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
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
        table = actuals.actuals_upload_read(upload)
        result = actuals.actuals_file_record(
            table=table, recorded_by=request.user, channel=ActualChargeChange.Channel.UPLOAD
        )
    except actuals.ActualsFileError as exc:
        context.update(
            problems=exc.problems[:PROBLEMS_SHOWN],
            more_problems=max(0, len(exc.problems) - PROBLEMS_SHOWN),
            bad_rows=exc.bad_rows,
            file_name=file_name,
        )
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
