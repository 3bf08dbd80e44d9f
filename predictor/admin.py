"""The staff console: the prediction history as an audit log (only actual charges may be set), and the model versions."""

import csv
import json
import logging
from collections.abc import Iterator
from http import HTTPStatus

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db import Error as DatabaseDriverError
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from . import access_log, actuals, charts, retention, selectors, tokens
from .monitoring import views as monitoring_admin
from .models import AccessLogEntry, ActualChargeChange, ApiToken, Batch, ModelVersion, Prediction

logger = logging.getLogger(__name__)


def _export_columns() -> tuple[tuple[str, str], ...]:
    """(header, lookup) for every column of a prediction, in the model's order; the model version and the user by name."""
    named = {"model_version": "model_version__name", "actual_recorded_by": "actual_recorded_by__username"}
    return tuple((field.name, named.get(field.name, field.name)) for field in Prediction._meta.concrete_fields)


EXPORT_COLUMNS = _export_columns()


class _Echo:
    """A file-like object whose write returns the line, for streaming csv output."""

    def write(self, value: str) -> str:
        return value


DATABASE_UNAVAILABLE = "The database did not answer, so nothing is shown or sent. Try again shortly."


def access_log_unavailable(
    model_admin: admin.ModelAdmin, request: HttpRequest, message: str = access_log.UNAVAILABLE_MESSAGE
) -> HttpResponse:
    """The 503 page of an admin access that could not be recorded in the access log (so nothing is shown)."""
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Not available right now",
        "message": message,
    }
    return TemplateResponse(
        request, "admin/predictor/access_log_unavailable.html", context, status=HTTPStatus.SERVICE_UNAVAILABLE
    )


def logged_csv_export(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset, columns: tuple[tuple[str, str], ...], *, action: str, name: str
) -> HttpResponse:
    """Stream ``queryset`` as CSV, recorded in the access log before the first byte (503 without the data if it cannot be).

    The entry holds the rows the filter selects when the export starts; the stream corrects it at its
    end when it sent another number (rows stored meanwhile, or a download cut short).
    """
    try:
        count = queryset.count()
    except DatabaseDriverError:
        logger.exception("Could not count the rows of a CSV export")
        return access_log_unavailable(model_admin, request, DATABASE_UNAVAILABLE)
    try:
        entry = access_log.access_log_record(
            request=request, action=action, filters=access_log.query_filters(request.GET), row_count=count
        )
    except access_log.AccessLogUnavailable:
        return access_log_unavailable(model_admin, request)
    rows = queryset.values_list(*(lookup for _, lookup in columns)).iterator(chunk_size=5000)
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        sent = 0
        try:
            yield writer.writerow([header for header, _ in columns])
            for row in rows:
                yield writer.writerow(row)
                sent += 1
        finally:
            access_log.access_log_row_count_correct(entry=entry, row_count=sent)

    filename = f"{name}-{timezone.now():%Y%m%d-%H%M%S}.csv"
    return StreamingHttpResponse(
        lines(), content_type="text/csv", headers={"Content-Disposition": f'attachment; filename="{filename}"'}
    )


class ReadOnlyAdminMixin:
    """History is never added to or edited by hand."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class LoggedCsvExportMixin:
    """An ``export.csv`` view of the changelist's filtered rows (filters, search, date drill-down), streamed and
    recorded in the access log before the first byte; the list links to it with its filters.

    A ModelAdmin sets ``export_action`` and ``export_name`` and may override ``export_rows``."""

    export_action: str
    export_name: str

    def export_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_export"

    def get_urls(self):
        export = path("export.csv", self.admin_site.admin_view(self.export_csv_view), name=self.export_url_name())
        return [export, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        extra_context = {**(extra_context or {}), "export_url": reverse(f"admin:{self.export_url_name()}") + query}
        return super().changelist_view(request, extra_context=extra_context)

    def export_rows(self, queryset):
        """The queryset to write and its (header, lookup) columns."""
        raise NotImplementedError

    def export_csv_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("These filters are not valid; go back to the list and choose them again.")
        except DatabaseDriverError:
            logger.exception("Could not read the list to export")
            return access_log_unavailable(self, request, DATABASE_UNAVAILABLE)
        # Recorded before the first byte, with the rows the filter selects now; the stream corrects it
        # when it sent another number (rows stored meanwhile, or a download cut short).
        queryset, columns = self.export_rows(queryset)
        return logged_csv_export(self, request, queryset, columns, action=self.export_action, name=self.export_name)


class PredictionActualForm(forms.ModelForm):
    """The one field staff may set on a prediction; the service records it (who, when, the previous value)."""

    actual_charges = actuals.ActualChargesField(
        label="Actual charges ($)",
        help_text="The yearly amount billed, from 0 to 1,000,000. Leave empty to clear a wrong value; every change is kept below.",
    )

    class Meta:
        model = Prediction
        fields = ["actual_charges"]


class ActualChargeChangeInline(admin.TabularInline):
    """The prediction's audit trail of actual charges, newest first: read-only."""

    model = ActualChargeChange
    fields = ("changed_at", "previous_charges", "actual_charges", "changed_by", "channel")
    readonly_fields = fields
    ordering = ("-changed_at", "-id")
    extra = 0
    can_delete = False
    verbose_name = "change of the actual charges"
    verbose_name_plural = "changes of the actual charges (the audit trail)"

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # Whoever may read the history may read its audit trail.
        return request.user.has_perm("predictor.view_prediction")


class InputsKeptFilter(admin.SimpleListFilter):
    """Whether a prediction still holds the person's inputs or the retention job anonymised them."""

    title = "inputs"
    parameter_name = "inputs"

    def lookups(self, request, model_admin):
        return (("kept", "kept as entered"), ("anonymised", "anonymised (bands)"))

    def queryset(self, request, queryset):
        if self.value() == "kept":
            return queryset.filter(anonymised_at__isnull=True)
        if self.value() == "anonymised":
            return queryset.filter(anonymised_at__isnull=False)
        return queryset


def _banded_display(name: str, description: str):
    """An input column: the value as entered, or its band once the row is anonymised."""

    @admin.display(description=description, ordering=name)
    def show(self, obj: Prediction) -> str:
        value = getattr(obj, name)
        if obj.anonymised_at is not None:
            return retention.band_label(name, value)
        return str(value)

    show.__name__ = f"{name}_shown"
    return show


@admin.register(Prediction)
class PredictionAdmin(LoggedCsvExportMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "id",
        "created_at",
        "age_shown",
        "sex",
        "bmi_shown",
        "children_shown",
        "smoker",
        "region",
        "charges",
        "interval",
        "actual",
        "model_version",
        "source",
        "inputs",
    )
    list_filter = (
        "smoker", "region", "sex", "source", "model_version", ("actual_charges", admin.EmptyFieldListFilter), "created_at",
        InputsKeptFilter,
    )
    date_hierarchy = "created_at"
    search_fields = ("model_version__name",)  # and ids: see get_search_results
    search_help_text = "Search by prediction id or model version name."
    list_select_related = ("model_version",)
    list_per_page = 50
    # Counting a million rows twice per page is the slow part of an admin list; once is enough.
    show_full_result_count = False
    ordering = ("-created_at", "-id")
    form = PredictionActualForm
    inlines = (ActualChargeChangeInline,)
    fieldsets = (
        ("Patient", {"fields": ("age_shown", "sex", "bmi_shown", "children_shown", "smoker", "region", "inputs")}),
        (
            "Prediction",
            {"fields": ("predicted_charges", "interval", "model_version", "source", "created_at", "batch")},
        ),
        ("Actual charges", {"fields": ("actual_charges", "actual_recorded_by", "actual_recorded_at")}),
    )
    readonly_fields = (
        "age_shown", "sex", "bmi_shown", "children_shown", "smoker", "region", "inputs",
        "predicted_charges", "interval", "model_version", "source",
        "created_at", "batch", "actual_recorded_by", "actual_recorded_at",
    )

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        """Only the actual charges may be set, by staff with "Can record actual charges"; the rest stays read-only."""
        return request.user.is_active and request.user.is_staff and request.user.has_perm(monitoring_admin.RECORD_PERMISSION)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if self.has_change_permission(request, obj):
            return self.readonly_fields
        return (*self.readonly_fields, "actual_charges")

    def save_model(self, request: HttpRequest, obj: Prediction, form, change: bool) -> None:
        """Through the service, which changes nothing else on the row and keeps the previous value."""
        actuals.actual_charges_record(
            prediction_id=obj.pk,
            actual_charges=form.cleaned_data["actual_charges"],
            recorded_by=request.user,
            channel=ActualChargeChange.Channel.ADMIN,
            allow_clear=True,
        )

    age_shown = _banded_display("age", "Age")
    bmi_shown = _banded_display("bmi", "BMI")
    children_shown = _banded_display("children", "Children")

    @admin.display(description="Inputs", ordering="anonymised_at")
    def inputs(self, obj: Prediction) -> str:
        if obj.anonymised_at is None:
            return "as entered"
        return f"anonymised {obj.anonymised_at:%Y-%m-%d}: age, BMI and children are bands, the time is the day"

    @admin.display(description="Actual charges", ordering="actual_charges")
    def actual(self, obj: Prediction) -> str:
        return "-" if obj.actual_charges is None else f"${obj.actual_charges:,}"

    @admin.display(description="Predicted charges", ordering="predicted_charges")
    def charges(self, obj: Prediction) -> str:
        return f"${obj.predicted_charges:,}"

    @admin.display(description="90% interval")
    def interval(self, obj: Prediction) -> str:
        if obj.predicted_charges_low is None:
            return "-"
        return f"${obj.predicted_charges_low:,} to ${obj.predicted_charges_high:,}"

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        """A number is a prediction id, looked up by its index alone; anything else searches model names.

        Django's default ORs every search field together, and "id = N OR name LIKE ..." across the
        join scans the whole table: a second on a million rows instead of a millisecond.
        """
        term = search_term.strip()
        if term.isdigit():
            return queryset.filter(pk=int(term)) if int(term) < 2**63 else queryset.none(), False
        return super().get_search_results(request, queryset, term)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        """A prediction's page; each GET that shows one is recorded in the access log first."""
        response = super().change_view(request, object_id, form_url, extra_context)
        shown = getattr(response, "context_data", None) or {}
        if request.method in ("GET", "HEAD") and response.status_code == HTTPStatus.OK and shown.get("original"):
            try:
                access_log.access_log_record(
                    request=request, action=AccessLogEntry.Action.PREDICTION_VIEW,
                    filters={"prediction": shown["original"].pk}, row_count=1,
                )
            except access_log.AccessLogUnavailable:
                return access_log_unavailable(self, request)
        return response

    export_action = AccessLogEntry.Action.PREDICTIONS_EXPORT
    export_name = "predictions"

    def export_rows(self, queryset):
        return queryset, EXPORT_COLUMNS

    def get_urls(self):
        monitoring = path(
            "monitoring/",
            self.admin_site.admin_view(lambda request: monitoring_admin.monitoring_view(self, request)),
            name="predictor_prediction_monitoring",
        )
        record = path(
            "actuals/",
            self.admin_site.admin_view(lambda request: monitoring_admin.actuals_upload_view(self, request)),
            name="predictor_prediction_actuals",
        )
        return [monitoring, record, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_record": request.user.has_perm(monitoring_admin.RECORD_PERMISSION),
            "retention_policy": retention.retention_policy().describe(),
        }
        return super().changelist_view(request, extra_context=extra_context)



@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "name", "active", "holdout_r2", "holdout_mae", "holdout_rmse", "holdout_coverage", "cv_r2", "trained_at",
        "short_sha", "report_link",
    )
    list_filter = ("active",)
    readonly_fields = ("name", "sha256", "active", "trained_at", "registered_at", "metrics", "card")

    def get_urls(self):
        report = path(
            "<int:pk>/report/",
            self.admin_site.admin_view(self.report_view),
            name="predictor_modelversion_report",
        )
        return [report, *super().get_urls()]

    def report_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The model card and a chart of predicted against actual charges on the holdout, with intervals."""
        version = self.get_object(request, str(pk))
        if version is None or not self.has_view_permission(request, version):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "version": version,
            "card": version.card,
            "interval_groups": selectors.model_version_interval_groups(version),
            "cohort_calibration": selectors.model_version_cohort_calibration(version),
            "chart": charts.holdout_svg(version.card),
            "title": f"Model {version.name}",
        }
        return TemplateResponse(request, "admin/predictor/modelversion/report.html", context)

    @admin.display(description="Report")
    def report_link(self, obj: ModelVersion) -> str:
        return format_html('<a href="{}">card and holdout chart</a>', reverse("admin:predictor_modelversion_report", args=[obj.pk]))

    @admin.display(description="Interval coverage")
    def holdout_coverage(self, obj: ModelVersion):
        return self._metric(obj, "holdout", "interval_coverage")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @staticmethod
    def _metric(obj: ModelVersion, part: str, name: str):
        return obj.metrics.get(part, {}).get(name)

    @admin.display(description="Holdout R²")
    def holdout_r2(self, obj: ModelVersion):
        return self._metric(obj, "holdout", "r2")

    @admin.display(description="Holdout MAE ($)")
    def holdout_mae(self, obj: ModelVersion):
        return self._metric(obj, "holdout", "mae")

    @admin.display(description="Holdout RMSE ($)")
    def holdout_rmse(self, obj: ModelVersion):
        return self._metric(obj, "holdout", "rmse")

    @admin.display(description="CV R²")
    def cv_r2(self, obj: ModelVersion):
        return self._metric(obj, "cv", "r2")

    @admin.display(description="SHA-256")
    def short_sha(self, obj: ModelVersion) -> str:
        return obj.sha256[:12]


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """CSV files scored at once; new ones come from the "Score a CSV file" page linked above the list."""

    list_display = ("id", "created_at", "file_name", "row_count", "created_by", "rows_link")
    list_select_related = ("created_by",)
    date_hierarchy = "created_at"
    search_fields = ("=id", "file_name", "created_by__username")
    search_help_text = "Search by batch id, file name or username."
    readonly_fields = ("file_name", "row_count", "created_by", "created_at", "rows_link")
    ordering = ("-created_at", "-id")

    @admin.display(description="Predictions")
    def rows_link(self, obj: Batch) -> str:
        url = reverse("admin:predictor_prediction_changelist") + f"?batch__id__exact={obj.pk}"
        return format_html('<a href="{}">{} rows</a>', url, f"{obj.row_count:,}")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Its predictions protect a batch: a superuser deletes them first.
        return request.user.is_active and request.user.is_superuser


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens for reading the history through the API; the token is shown once, when it is added."""

    list_display = ("name", "user", "prefix", "created_at", "last_used_at")
    list_select_related = ("user",)
    search_fields = ("name", "user__username", "prefix")
    fields = ("user", "name")
    readonly_fields = ("prefix", "created_at", "last_used_at")

    def get_fields(self, request: HttpRequest, obj=None):
        return self.fields if obj is None else ("user", "name", "prefix", "created_at", "last_used_at")

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.readonly_fields if obj is None else ("user", "name", *self.readonly_fields)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = get_user_model().objects.filter(is_active=True, is_staff=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        token, key = tokens.api_token_create(user=obj.user, name=obj.name)
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = token.pk, token.prefix, token.key_hash, token.created_at
        messages.warning(
            request,
            f"The new token for {token.user}: {key} — copy it now; only its hash is stored, so it cannot be shown again.",
        )


class AccessLogUserFilter(admin.SimpleListFilter):
    """Who: every username in the log, including users deleted since (their entries keep the name)."""

    title = "user"
    parameter_name = "username"

    def lookups(self, request: HttpRequest, model_admin):
        names = AccessLogEntry.objects.exclude(username="").order_by("username").values_list("username", flat=True).distinct()
        return [(name, name) for name in names]

    def queryset(self, request: HttpRequest, queryset):
        return queryset.filter(username=self.value()) if self.value() else queryset


@admin.register(AccessLogEntry)
class AccessLogEntryAdmin(LoggedCsvExportMixin, admin.ModelAdmin):
    """The staff access audit: superusers read it; nobody adds, changes or deletes an entry here."""

    list_display = ("created_at", "who", "action", "row_count", "ip", "path", "filter_json")
    # Every field is in the list: entries have no page of their own (their change URL answers 403).
    list_display_links = None
    list_filter = ("action", AccessLogUserFilter, "created_at")
    date_hierarchy = "created_at"
    search_fields = ("username", "ip")
    search_help_text = "Search by username or IP address."
    ordering = ("-created_at", "-id")
    show_full_result_count = False
    actions = None

    @staticmethod
    def _superuser(request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    export_action = AccessLogEntry.Action.ACCESS_LOG_EXPORT
    export_name = "access-log"

    def export_rows(self, queryset):
        """The log's own columns, the filter as JSON text (PostgreSQL's own rendering), not a Python dict's repr."""
        queryset = queryset.annotate(filters_json=Cast("filters", output_field=TextField()))
        columns = tuple(
            (field.name, "filters_json" if field.name == "filters" else field.name)
            for field in AccessLogEntry._meta.concrete_fields
        )
        return queryset, columns

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._superuser(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        # Not the model permission: only superusers, whatever permissions a staff user is given.
        return self._superuser(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        """No entry is changed, and none needs a page: the list shows every field."""
        raise PermissionDenied

    @admin.display(description="Filter")
    def filter_json(self, obj: AccessLogEntry) -> str:
        return json.dumps(obj.filters, cls=DjangoJSONEncoder, sort_keys=True)

    @admin.display(description="Who", ordering="username")
    def who(self, obj: AccessLogEntry) -> str:
        if obj.command:
            return f"command {obj.command}"
        token = f" (token {obj.token_name}, {obj.token_prefix}…)" if obj.token_prefix else ""
        return f"{obj.username or '-'}{token}"
