"""Writes of human oversight: a reviewed charge over an estimate, and pausing or resuming the service.

Both records are append-only (the database refuses UPDATE and DELETE). The admin pages, the API and
the commands call these functions, so the rules and the messages are the same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from .. import serving
from ..models import ChargeOverride, Prediction, ServingChange
from ..pg_copy import CENT
from ..security.permissions import OVERRIDE_PERMISSION, staff_with
from . import selectors

MAX_REVIEWED_CHARGES = Decimal("1000000")
MAX_CHARGE_TEXT = 20
MAX_REASON_LENGTH = 2000
OVERRIDE_MESSAGES = {
    "required": "Enter the reviewed charge.",
    "invalid": "Enter the reviewed charge as a number of dollars, like 12345.67 (no currency sign or thousands separator).",
    "negative": "The reviewed charge cannot be negative.",
    "too_large": "The reviewed charge cannot be more than $1,000,000 a year; check the amount.",
    "same": "The reviewed charge equals the figure in force ({amount}); nothing was recorded.",
    "reason_required": "Give the reason for the override; it is kept with it.",
    "reason_too_long": f"Keep the reason under {MAX_REASON_LENGTH:,} characters.",
    "forbidden": 'Overriding an estimate needs a staff account with the "Can override an estimate with a reviewed charge" permission.',
}
PAUSE_REASON_REQUIRED = "Give the reason for the pause; it is kept in the record."


class PredictionNotFound(Exception):
    """The prediction to override does not exist (or no longer does)."""


# ---------------------------------------------------------------------------
# Overrides


def reviewed_charges_clean(value: Any) -> Decimal:
    """An amount of dollars from $0 to $1,000,000, rounded to the cent; ValidationError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(OVERRIDE_MESSAGES["required"], code="required")
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValidationError(OVERRIDE_MESSAGES["invalid"], code="invalid")
    if isinstance(value, str) and len(value.strip()) > MAX_CHARGE_TEXT:  # refused before it is parsed
        raise ValidationError(OVERRIDE_MESSAGES["invalid"], code="invalid")
    text = value.strip() if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationError(OVERRIDE_MESSAGES["invalid"], code="invalid") from None
    if not amount.is_finite():
        raise ValidationError(OVERRIDE_MESSAGES["invalid"], code="invalid")
    if amount < 0:
        raise ValidationError(OVERRIDE_MESSAGES["negative"], code="negative")
    if amount > MAX_REVIEWED_CHARGES:
        raise ValidationError(OVERRIDE_MESSAGES["too_large"], code="too_large")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def reason_clean(value: Any) -> str:
    """The reason of an override: required text, surrounding spaces dropped."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(OVERRIDE_MESSAGES["reason_required"], code="required")
    if len(value.strip()) > MAX_REASON_LENGTH:
        raise ValidationError(OVERRIDE_MESSAGES["reason_too_long"], code="too_long")
    return value.strip()


def charge_override_record(
    *, prediction_id: int, reviewed_charges: Any, reason: Any, user: AbstractBaseUser, channel: str
) -> ChargeOverride:
    """Record a reviewed charge over a stored prediction's estimate, with who, when, the figure before and why.

    The prediction's own estimate never changes. Raises PermissionDenied for a user without the
    permission, ValidationError (by field) for a bad charge or no reason, and PredictionNotFound;
    nothing is stored then. Overriding with the figure already in force is refused too.
    """
    if not staff_with(user, OVERRIDE_PERMISSION):
        raise PermissionDenied(OVERRIDE_MESSAGES["forbidden"])
    errors: dict[str, list[str]] = {}
    try:
        reviewed_charges = reviewed_charges_clean(reviewed_charges)
    except ValidationError as exc:
        errors["reviewed_charges"] = exc.messages
    try:
        reason = reason_clean(reason)
    except ValidationError as exc:
        errors["reason"] = exc.messages
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # The row lock orders overrides of one prediction, so each keeps the figure it replaced.
        prediction = Prediction.objects.select_for_update().only("id", "predicted_charges").filter(pk=prediction_id).first()
        if prediction is None:
            raise PredictionNotFound(f"There is no prediction {prediction_id}.")
        latest = selectors.charge_override_latest(prediction_id=prediction_id)
        previous = prediction.predicted_charges if latest is None else latest.reviewed_charges
        if previous == reviewed_charges:
            raise ValidationError({"reviewed_charges": [OVERRIDE_MESSAGES["same"].format(amount=f"${previous:,}")]})
        override = ChargeOverride(
            prediction=prediction, previous_charges=previous, reviewed_charges=reviewed_charges, reason=reason,
            created_by=user, username=user.get_username(), channel=channel,
        )
        override.full_clean(exclude=["prediction", "created_by"])
        override.save()
    return override


# ---------------------------------------------------------------------------
# Pause and resume


@dataclass(frozen=True)
class ServingToggle:
    """What a pause or a resume did: ``changed`` is False when the service already was in that state;
    ``record`` is the new ServingChange, or else the latest one (None when the service was never paused)."""

    changed: bool
    record: ServingChange | None


def _serving_toggle(kind: str, *, reason: str, user: AbstractBaseUser | None, channel: str) -> ServingToggle:
    with transaction.atomic():
        if connection.vendor == "postgresql":  # one change at a time: two pauses at once record one
            with connection.cursor() as cursor:
                cursor.execute(f"LOCK TABLE {ServingChange._meta.db_table} IN SHARE ROW EXCLUSIVE MODE")
        latest = ServingChange.objects.order_by("-id").first()
        paused = latest is not None and latest.kind == ServingChange.Kind.PAUSE
        if paused == (kind == ServingChange.Kind.PAUSE):
            return ServingToggle(changed=False, record=latest)
        record = ServingChange(
            kind=kind, changed_by=user, username=user.get_username() if user is not None else "",
            channel=channel, reason=reason.strip(),
        )
        record.full_clean(exclude=["changed_by"])
        record.save()
    serving.serving_pause_reset()  # this process at once; every other within PREDICTOR_PAUSE_TTL seconds
    return ServingToggle(changed=True, record=record)


def serving_pause(*, reason: Any, user: AbstractBaseUser | None = None, channel: str) -> ServingToggle:
    """Pause the service: no prediction is made or stored anywhere until it is resumed. The reason is required.

    Pausing a paused service changes and records nothing (``changed`` False).
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ValidationError({"reason": [PAUSE_REASON_REQUIRED]})
    if len(reason.strip()) > MAX_REASON_LENGTH:
        raise ValidationError({"reason": [OVERRIDE_MESSAGES["reason_too_long"]]})
    return _serving_toggle(ServingChange.Kind.PAUSE, reason=reason, user=user, channel=channel)


def serving_resume(*, reason: Any = "", user: AbstractBaseUser | None = None, channel: str) -> ServingToggle:
    """Resume a paused service (the reason is optional). Resuming a running service changes and records nothing."""
    reason = reason if isinstance(reason, str) else ""
    if len(reason.strip()) > MAX_REASON_LENGTH:
        raise ValidationError({"reason": [OVERRIDE_MESSAGES["reason_too_long"]]})
    return _serving_toggle(ServingChange.Kind.RESUME, reason=reason, user=user, channel=channel)
