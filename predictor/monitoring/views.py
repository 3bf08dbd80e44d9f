"""The staff pages of monitoring, in the admin (``predictor.sites`` mounts and guards them): the
monitoring report, and a model version's report (its card and holdout chart). Thin: bind a form, call
the selector, render."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.views.decorators.http import require_safe

from ..ml import drift, stats
from ..models import ModelVersion, Prediction
from ..oversight.selectors import override_figures
from ..security import access_log
from ..security.permissions import RECORD_PERMISSION
from . import cards, charts, queries
from .fairness import CARD_WORDING, FairnessUnavailable, fairness_live
from .report import MonitoringUnavailable, monitoring_report


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


@require_safe
def monitoring(request: HttpRequest, admin_context: dict[str, Any]) -> HttpResponse:
    """Accuracy, calibration and drift for a period and a model version, with charts and alerts."""
    form = MonitoringFilterForm(request.GET or None)
    context = {
        **admin_context,
        "opts": Prediction._meta,
        "title": "Monitoring: accuracy, calibration and drift",
        "form": form,
        "min_actuals": stats.MIN_ACTUALS,
        "coverage_floor": stats.COVERAGE_FLOOR,
        "bias_share": stats.BIAS_SHARE,
        "psi_watch": drift.PSI_WATCH,
        "psi_drift": drift.PSI_DRIFT,
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
    # On request: the figures read every row with actual charges, which the page's aggregates do not.
    if request.GET.get("fairness"):
        try:
            fairness = fairness_live(model_version=filters.get("model"), since=filters.get("since"), until=filters.get("until"))
            context.update(fairness=fairness, fairness_chart=charts.fairness_svg(fairness["groups"]))
        except FairnessUnavailable as exc:
            context["fairness_unavailable"] = str(exc)
    context.update(
        report=report,
        # Staff overrides, apart from the model's own accuracy above (which is always the estimate's).
        overrides=override_figures(since=report.since, until=report.until, model_version=filters.get("model")),
        scatter=charts.scatter_svg(report.points),
        monthly=charts.monthly_svg(report.by_month),
        volume=charts.volume_svg(report.volume),
    )
    return TemplateResponse(request, "admin/predictor/monitoring.html", context)


@require_safe
def model_version_report(request: HttpRequest, admin_context: dict[str, Any], pk: int) -> HttpResponse:
    """The model card and a chart of predicted against actual charges on the holdout, with intervals."""
    version = ModelVersion.objects.filter(pk=pk).first()
    if version is None:
        raise Http404("There is no model version with this id.")
    context = {
        **admin_context,
        "opts": ModelVersion._meta,
        "version": version,
        "card": version.card,
        "interval_groups": cards.model_version_interval_groups(version),
        "cohort_calibration": cards.model_version_cohort_calibration(version),
        "chart": charts.holdout_svg(version.card),
        "fairness": version.card.get("fairness"),
        "fairness_chart": charts.fairness_svg((version.card.get("fairness") or {}).get("groups", [])),
        "fairness_wording": CARD_WORDING,
        "title": f"Model {version.name}",
    }
    return TemplateResponse(request, "admin/predictor/modelversion/report.html", context)
