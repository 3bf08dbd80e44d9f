"""API tokens and the staff access log, in the admin: tokens are shown once; the log is read by superusers only."""

import json

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import HttpRequest

from ..models import AccessLogEntry, ApiToken
from ..security import tokens
from .mixins import LoggedCsvExportMixin


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
