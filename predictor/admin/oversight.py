"""The records of human oversight in the admin, read-only: every override of an estimate, and every pause
and resume of the service (with a link to the page that pauses or resumes it)."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from ..models import ChargeOverride, ServingChange
from ..security.permissions import SERVING_PAUSE_PERMISSION
from .mixins import ReadOnlyAdminMixin


@admin.register(ChargeOverride)
class ChargeOverrideAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every reviewed charge recorded over an estimate: who, when, the figure before, the new one, why."""

    list_display = ("id", "created_at", "prediction_link", "previous_charges", "reviewed_charges", "username", "channel", "reason")
    list_filter = ("channel", "created_at")
    date_hierarchy = "created_at"
    search_fields = ("=prediction__id", "username")
    search_help_text = "Search by prediction id or username."
    readonly_fields = ("prediction_link", "previous_charges", "reviewed_charges", "reason", "created_at", "username", "channel")
    fields = readonly_fields
    ordering = ("-created_at", "-id")

    @admin.display(description="Prediction", ordering="prediction")
    def prediction_link(self, obj: ChargeOverride) -> str:
        url = reverse("admin:predictor_prediction_change", args=[obj.prediction_id])
        return format_html('<a href="{}">{}</a>', url, obj.prediction_id)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # append-only: the database refuses it too


@admin.register(ServingChange)
class ServingChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every pause and resume of the service; the page linked above the list pauses or resumes it."""

    list_display = ("id", "created_at", "kind", "username", "channel", "reason")
    list_filter = ("kind", "channel")
    readonly_fields = ("kind", "created_at", "username", "channel", "reason")
    fields = readonly_fields
    ordering = ("-id",)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # append-only: the database refuses it too

    def changelist_view(self, request: HttpRequest, extra_context=None):
        extra_context = {**(extra_context or {}), "can_pause": request.user.has_perm(SERVING_PAUSE_PERMISSION)}
        return super().changelist_view(request, extra_context=extra_context)
