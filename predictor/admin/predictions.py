"""The prediction history in the admin: an audit log, read-only but for the actual charges, with their
audit trail, the staff overrides of each estimate, a filter by whether the inputs were anonymised, and a CSV export."""

from http import HTTPStatus

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from .. import retention
from ..actuals.forms import PredictionActualForm
from ..actuals.services import actual_charges_record
from ..models import AccessLogEntry, ActualChargeChange, ChargeOverride, Prediction
from ..models.oversight import prediction_delete_allow
from ..oversight.selectors import reviewed_charges_latest
from ..security import access_log
from ..security.permissions import HISTORY_PERMISSION, OVERRIDE_PERMISSION, RECORD_PERMISSION, staff_with
from .mixins import LoggedCsvExportMixin, ReadOnlyAdminMixin, access_log_unavailable


def _export_columns() -> tuple[tuple[str, str], ...]:
    """(header, lookup) for every column of a prediction, in the model's order; the model version and the user by name."""
    named = {"model_version": "model_version__name", "actual_recorded_by": "actual_recorded_by__username"}
    return tuple((field.name, named.get(field.name, field.name)) for field in Prediction._meta.concrete_fields)


# After the model's estimate (predicted_charges), the reviewed charge in force with who recorded it and when (empty: none).
REVIEW_COLUMNS = (("reviewed_charges", "reviewed_charges"), ("reviewed_by", "reviewed_by"), ("reviewed_at", "reviewed_at"))
EXPORT_COLUMNS = (*_export_columns(), *REVIEW_COLUMNS)


def reviewed_annotated(queryset):
    """Predictions with their reviewed charge in force (the latest override), who recorded it and when; NULL when none."""
    return queryset.annotate(
        reviewed_charges=reviewed_charges_latest(), reviewed_by=reviewed_charges_latest("username"),
        reviewed_at=reviewed_charges_latest("created_at"),
    )


class _AuditTrailInline(admin.TabularInline):
    """A prediction's append-only trail, newest first: shown to whoever may read the history, never added to or changed here."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.has_perm(HISTORY_PERMISSION)


class ActualChargeChangeInline(_AuditTrailInline):
    """The prediction's audit trail of actual charges, newest first: read-only."""

    model = ActualChargeChange
    fields = ("changed_at", "previous_charges", "actual_charges", "changed_by", "channel")
    readonly_fields = fields
    ordering = ("-changed_at", "-id")
    verbose_name = "change of the actual charges"
    verbose_name_plural = "changes of the actual charges (the audit trail)"


class ChargeOverrideInline(_AuditTrailInline):
    """The prediction's overrides, newest first: read-only (append-only); the first is the reviewed charge in force."""

    model = ChargeOverride
    fields = ("created_at", "previous_charges", "reviewed_charges", "username", "reason", "channel")
    readonly_fields = fields
    ordering = ("-created_at", "-id")
    verbose_name = "override of the estimate"
    verbose_name_plural = "overrides of the estimate (staff review; the model's estimate is kept)"


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
        "reviewed",
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
    inlines = (ChargeOverrideInline, ActualChargeChangeInline)
    fieldsets = (
        ("Patient", {"fields": ("age_shown", "sex", "bmi_shown", "children_shown", "smoker", "region", "inputs")}),
        (
            "Prediction",
            {"fields": ("predicted_charges", "interval", "model_version", "source", "created_at", "batch")},
        ),
        ("Staff review", {"fields": ("reviewed",)}),
        ("Actual charges", {"fields": ("actual_charges", "actual_recorded_by", "actual_recorded_at")}),
    )
    readonly_fields = (
        "age_shown", "sex", "bmi_shown", "children_shown", "smoker", "region", "inputs",
        "predicted_charges", "interval", "reviewed", "override_link", "model_version", "source",
        "created_at", "batch", "actual_recorded_by", "actual_recorded_at",
    )

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        """Only the actual charges may be set, by staff with "Can record actual charges"; the rest stays read-only."""
        return staff_with(request.user, RECORD_PERMISSION)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if self.has_change_permission(request, obj):
            return self.readonly_fields
        return (*self.readonly_fields, "actual_charges")

    def save_model(self, request: HttpRequest, obj: Prediction, form, change: bool) -> None:
        """Through the service, which changes nothing else on the row and keeps the previous value."""
        actual_charges_record(
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

    @admin.display(description="Predicted charges (model's estimate)", ordering="predicted_charges")
    def charges(self, obj: Prediction) -> str:
        return f"${obj.predicted_charges:,}"

    @admin.display(description="Reviewed charge (staff override)")
    def reviewed(self, obj: Prediction) -> str:
        """The reviewed charge in force, or "-" (the estimate stands)."""
        return "-" if obj.reviewed_charges is None else f"${obj.reviewed_charges:,} by {obj.reviewed_by}"

    @admin.display(description="Override")
    def override_link(self, obj: Prediction) -> str:
        link = reverse("admin:predictor_prediction_override", args=[obj.pk])
        return format_html('<a href="{}" id="override-link">Override the estimate with a reviewed charge</a>', link)

    def get_fieldsets(self, request: HttpRequest, obj=None):
        """The link to override the estimate, for staff who may."""
        if not staff_with(request.user, OVERRIDE_PERMISSION):
            return self.fieldsets
        return tuple(
            (name, {"fields": (*options["fields"], "override_link")}) if name == "Staff review" else (name, options)
            for name, options in self.fieldsets
        )

    def get_queryset(self, request: HttpRequest):
        return reviewed_annotated(super().get_queryset(request))

    def get_deleted_objects(self, objs, request: HttpRequest):
        """A prediction's overrides go with it (as with the retention purge), though nobody may delete one alone."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(ChargeOverride._meta.verbose_name)
        return deleted, counts, perms_needed, protected

    def delete_model(self, request: HttpRequest, obj: Prediction) -> None:
        with transaction.atomic():
            prediction_delete_allow()  # its overrides go with it; the record refuses any other DELETE
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        with transaction.atomic():
            prediction_delete_allow()
            super().delete_queryset(request, queryset)

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

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_record": request.user.has_perm(RECORD_PERMISSION),
            "retention_policy": retention.retention_policy().describe(),
        }
        return super().changelist_view(request, extra_context=extra_context)
