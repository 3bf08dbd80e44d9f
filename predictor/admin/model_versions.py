"""Model versions (with a link to each one's report) and the batches of scored files, in the admin: read-only."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from ..models import Batch, ModelVersion
from .mixins import ReadOnlyAdminMixin


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "name", "active", "holdout_r2", "holdout_mae", "holdout_rmse", "holdout_coverage", "cv_r2", "trained_at",
        "short_sha", "report_link",
    )
    list_filter = ("active",)
    readonly_fields = ("name", "sha256", "active", "trained_at", "registered_at", "metrics", "card")

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
