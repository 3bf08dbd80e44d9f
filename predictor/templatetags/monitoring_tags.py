"""Template helpers of the monitoring pages: how figures read, and the admin index's monitoring headline."""

from __future__ import annotations

import logging

from django import template
from django.db import DatabaseError

from .. import monitoring
from ..security.permissions import HISTORY_PERMISSION

logger = logging.getLogger(__name__)

register = template.Library()


@register.filter
def dollars(value: float | None, digits: int = 0) -> str:
    """$1,234 (or $-1,234 written −$1,234); an em dash for no value."""
    if value is None:
        return "—"
    sign = "−" if value < 0 else ""
    return f"{sign}${abs(value):,.{int(digits)}f}"


@register.filter
def percent(value: float | None, digits: int = 1) -> str:
    """0.9224 as 92.2%; an em dash for no value."""
    return "—" if value is None else f"{value * 100:.{int(digits)}f}%"


@register.filter
def number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{int(digits)}f}"


@register.inclusion_tag("admin/predictor/monitoring_headline.html", takes_context=True)
def monitoring_headline(context) -> dict:
    """The admin index's box: the monitoring page's overall figures, alerts and drift flags (every version, all time).

    Only for staff who may read the history. Without PostgreSQL, or when the query fails, it says so
    and the rest of the page works.
    """
    request = context.get("request")
    if request is None or not request.user.has_perm(HISTORY_PERMISSION):
        return {"show": False}
    try:
        report = monitoring.monitoring_report(detail=False)
    except monitoring.MonitoringUnavailable as exc:
        return {"show": True, "unavailable": str(exc)}
    except DatabaseError:
        # The home page must not fail because its monitoring box could not be read.
        logger.exception("The monitoring headline could not be read")
        return {"show": True, "unavailable": "The monitoring figures could not be read right now (database error)."}
    return {"show": True, "report": report}
