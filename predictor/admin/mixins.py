"""What several admin areas share: read-only history, and a CSV export of a list's filtered rows,
streamed and recorded in the staff access log before the first byte."""

import csv
import logging
from collections.abc import Iterator
from http import HTTPStatus

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied
from django.db import Error as DatabaseDriverError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from ..security import access_log

logger = logging.getLogger(__name__)


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
