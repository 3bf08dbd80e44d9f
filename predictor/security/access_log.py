"""Writes: the staff access audit. Every read or export of stored health data records who, when, from where,
what, with which filter and how many rows, through ``access_log_record``, in the same request.

It fails closed: when the entry cannot be stored, ``AccessLogUnavailable`` is raised and the caller
answers 503 without the data (the batch page and the forecast page also roll back what they stored).
Only accesses that return data are recorded; a refused or invalid request (401, 403, 400, 404) is not.
Entries are kept ``PREDICTOR_ACCESS_LOG_RETENTION_DAYS`` days; ``manage.py purge_access_log`` deletes older ones.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.db import Error as DatabaseDriverError
from django.db import transaction
from django.http import HttpRequest, QueryDict
from django.utils import timezone

from ..models import AccessLogEntry
from .client_ip import client_ip

logger = logging.getLogger(__name__)

Action = AccessLogEntry.Action
UNAVAILABLE_MESSAGE = (
    "This access could not be recorded in the staff access log, so nothing is shown or sent. "
    "Try again shortly."
)
# Old entries are deleted this many at a time, each batch its own short transaction.
PURGE_BATCH_SIZE = 5000


class AccessLogUnavailable(Exception):
    """The access could not be recorded (the database refused or did not answer); the data must not be returned."""


def query_filters(query: QueryDict) -> dict[str, Any]:
    """A request's query string as JSON: one value per key, or the list when a key repeats."""
    return {key: values[0] if len(values) == 1 else values for key, values in query.lists()}


def access_log_record(
    *,
    action: str,
    row_count: int,
    request: HttpRequest | None = None,
    command: str = "",
    filters: Mapping[str, Any] | None = None,
) -> AccessLogEntry:
    """Record one access, by a request's user (or its API token) or by a command; raise AccessLogUnavailable if it cannot be stored."""
    if (request is None) == (not command):
        raise ValueError("An access is made either by a request or by a command.")
    entry = AccessLogEntry(action=action, row_count=row_count, filters=dict(filters or {}), command=command)
    if request is not None:
        token = getattr(request, "api_token", None)  # set by the API's token authentication
        user = token.user if token is not None else request.user
        if user.is_authenticated:
            entry.user, entry.username = user, user.get_username()
        if token is not None:
            entry.token_name, entry.token_prefix = token.name, token.prefix
        entry.ip = client_ip(request)[:100]
        entry.path = request.path
    entry.full_clean(exclude=["user"])  # the user is the request's own; checking it would cost a query
    try:
        with transaction.atomic():
            entry.save()
    except DatabaseDriverError as exc:
        logger.exception("Could not record %s by %s in the access log", action, entry.username or command or "?")
        raise AccessLogUnavailable(UNAVAILABLE_MESSAGE) from exc
    return entry


def access_log_row_count_correct(*, entry: AccessLogEntry, row_count: int) -> None:
    """Set the rows a streamed export really sent, when they differ from the count recorded before it started.

    The entry exists already (the data was only sent after it was stored), so a failure here is logged, not raised.
    """
    if row_count == entry.row_count:
        return
    try:
        with transaction.atomic():
            AccessLogEntry.objects.filter(pk=entry.pk).update(row_count=row_count)
        entry.row_count = row_count
    except DatabaseDriverError:
        logger.exception("Could not correct the row count of access log entry %s to %s", entry.pk, row_count)


def access_log_cutoff(*, older_than_days: int, now: datetime | None = None) -> datetime:
    """The time before which entries are older than ``older_than_days`` days."""
    return (now or timezone.now()) - timedelta(days=older_than_days)


def access_log_purge(*, before: datetime, batch_size: int = PURGE_BATCH_SIZE, dry_run: bool = False) -> int:
    """Delete the entries made before ``before``, ``batch_size`` at a time; return how many (or would, with dry_run)."""
    old = AccessLogEntry.objects.filter(created_at__lt=before)
    if dry_run:
        return old.count()
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(old.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            deleted += AccessLogEntry.objects.filter(pk__in=ids).delete()[0]
