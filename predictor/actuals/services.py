"""Writes: the actual charges billed for a year, recorded by staff against stored predictions.

The admin form, the CSV upload page, ``manage.py record_actuals`` and
``PUT /api/v1/predictions/{id}/actual`` all call ``actual_charges_record_many`` (or its one-row
form). It checks every row first (an amount from $0 to $1,000,000, rounded to the cent; known,
distinct prediction ids), then stores all of them in one transaction or none. A row whose value
is already the stored one changes nothing, so sending the same file twice changes nothing.
Each change sets the prediction's ``actual_charges``, ``actual_recorded_by`` and
``actual_recorded_at`` and adds an ``ActualChargeChange`` row keeping the previous value.
The prediction's inputs and predicted charges are never touched.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from .. import pg_copy
from ..models import ActualChargeChange, Prediction
from ..pg_copy import CENT

MAX_ACTUAL_CHARGES = Decimal("1000000")
MAX_TEXT_LENGTH = 20
MAX_ID = 2**63 - 1
COLUMNS = ("prediction_id", "actual_charges")
# Ids looked up per query (SQLite takes at most 999 parameters in older builds).
LOOKUP_CHUNK = 900

MESSAGES = {
    "required": "Enter the actual charges.",
    "invalid": "Enter the actual charges as a number of dollars, like 12345.67 (no currency sign or thousands separator).",
    "negative": "The actual charges cannot be negative.",
    "too_large": "The actual charges cannot be more than $1,000,000 a year; check the amount.",
    "id_required": "Enter the prediction id.",
    "id_invalid": "The prediction id must be a whole number, like 1234.",
}


# ---------------------------------------------------------------------------
# One value


def actual_charges_clean(value: Any) -> Decimal:
    """An amount of dollars from $0 to $1,000,000, rounded to the cent; ValidationError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(MESSAGES["required"], code="required")
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValidationError(MESSAGES["invalid"], code="invalid")
    # Over-long text is refused before it is parsed, so a megabyte of digits costs nothing.
    if isinstance(value, str) and len(value.strip()) > MAX_TEXT_LENGTH:
        raise ValidationError(MESSAGES["invalid"], code="invalid")
    text = value.strip() if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationError(MESSAGES["invalid"], code="invalid") from None
    if not amount.is_finite():
        raise ValidationError(MESSAGES["invalid"], code="invalid")
    if amount < 0:
        raise ValidationError(MESSAGES["negative"], code="negative")
    if amount > MAX_ACTUAL_CHARGES:
        raise ValidationError(MESSAGES["too_large"], code="too_large")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def prediction_id_clean(value: Any) -> int:
    """A prediction id: a whole number (whether a prediction has it is checked when recording)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError(MESSAGES["id_required"], code="required")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(MESSAGES["id_invalid"], code="invalid")
    text = value.strip() if isinstance(value, str) else str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > MAX_TEXT_LENGTH:
        raise ValidationError(MESSAGES["id_invalid"], code="invalid")
    return int(text)


# ---------------------------------------------------------------------------
# Recording


class ActualRowsError(ValidationError):
    """Rows that cannot be recorded; ``row_errors`` maps each bad row's index to its messages, and nothing was stored.

    ``unknown`` holds the indexes of rows whose only problem is an id no prediction has.
    """

    def __init__(self, row_errors: dict[int, list[str]], *, unknown: Iterable[int] = ()):
        self.row_errors = dict(sorted(row_errors.items()))
        self.unknown = set(unknown)
        super().__init__([f"row {index}: {message}" for index, message in self.problems()])

    def problems(self) -> list[tuple[int, str]]:
        """Every problem as (row index, message), in row order."""
        return [(index, message) for index, messages in self.row_errors.items() for message in messages]


@dataclass(frozen=True)
class ActualsRecorded:
    """What a recording did: how many predictions changed and how many already had that value."""

    changed: int
    unchanged: int

    @property
    def rows(self) -> int:
        return self.changed + self.unchanged


RowLabel = Callable[[int], str]


def _row_label(index: int) -> str:
    return f"row {index}"


def actual_rows_check(
    rows: Sequence[tuple[Any, Any]], *, allow_clear: bool, row_label: RowLabel
) -> tuple[dict[int, tuple[int | None, Decimal | None]], dict[int, list[str]]]:
    """Each row's (id, value) as far as it could be read, and every row's problems; no database needed."""
    cleaned: dict[int, tuple[int | None, Decimal | None]] = {}
    errors: dict[int, list[str]] = {}
    first_row: dict[int, int] = {}
    for index, (raw_id, raw_value) in enumerate(rows):
        messages = []
        prediction_id = value = None
        try:
            prediction_id = prediction_id_clean(raw_id)
        except ValidationError as exc:
            messages += [f"prediction_id: {message}" for message in exc.messages]
        if not (allow_clear and (raw_value is None or (isinstance(raw_value, str) and not raw_value.strip()))):
            try:
                value = actual_charges_clean(raw_value)
            except ValidationError as exc:
                messages += [f"actual_charges: {message}" for message in exc.messages]
        if prediction_id is not None:
            if prediction_id in first_row:
                messages.append(
                    f"prediction_id: prediction {prediction_id} is on {row_label(first_row[prediction_id])} too; "
                    "give each prediction one value."
                )
            else:
                first_row[prediction_id] = index
        cleaned[index] = (prediction_id, value)
        if messages:
            errors[index] = messages
    return cleaned, errors


def _current_values(ids: list[int]) -> dict[int, Decimal | None]:
    """The stored actual charges of the predictions that exist among ``ids``, locked until the transaction ends."""
    current: dict[int, Decimal | None] = {}
    ids = [pk for pk in ids if pk <= MAX_ID]  # no id is larger than a bigint holds
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows = (
            Prediction.objects.filter(pk__in=ids[start : start + LOOKUP_CHUNK])
            .select_for_update()
            .order_by()
            .values_list("pk", "actual_charges")
        )
        current.update(rows)
    return current


def _store(changes: list[tuple[int, Decimal | None, Decimal | None]], *, user_id: int | None, now, channel: str) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                """
                UPDATE predictor_prediction AS p
                SET actual_charges = v.actual, actual_recorded_by_id = %s, actual_recorded_at = %s
                FROM unnest(%s::bigint[], %s::numeric[]) AS v(id, actual)
                WHERE p.id = v.id
                """,
                [user_id, now, [pk for pk, _, _ in changes], [new for _, _, new in changes]],
            )
    else:
        Prediction.objects.bulk_update(
            [
                Prediction(pk=pk, actual_charges=new, actual_recorded_by_id=user_id, actual_recorded_at=now)
                for pk, _, new in changes
            ],
            ["actual_charges", "actual_recorded_by", "actual_recorded_at"],
            batch_size=LOOKUP_CHUNK,
        )
    pg_copy.objects_insert(
        [
            ActualChargeChange(
                prediction_id=pk, previous_charges=old, actual_charges=new, changed_by_id=user_id, changed_at=now,
                channel=channel,
            )
            for pk, old, new in changes
        ]
    )


def actual_charges_record_many(
    *,
    rows: Sequence[tuple[Any, Any]],
    recorded_by: AbstractBaseUser | None,
    channel: str,
    allow_clear: bool = False,
    row_label: RowLabel = _row_label,
) -> ActualsRecorded:
    """Record (prediction id, actual charges) rows: all of them, or none and ActualRowsError naming every bad row.

    Values are checked with ``actual_charges_clean``; an id must name a stored prediction and
    appear once. A row whose value is already stored changes nothing. ``allow_clear`` lets an
    empty value clear a recorded one (the admin form's way to undo a mistake); ``row_label``
    says how a message names another row ("row 3", or a file's "line 5").
    """
    ActualChargeChange._meta.get_field("channel").clean(channel, None)
    if not rows:
        raise ValidationError("There are no rows to record.")
    cleaned, errors = actual_rows_check(rows, allow_clear=allow_clear, row_label=row_label)
    user_id = recorded_by.pk if recorded_by is not None else None
    with transaction.atomic():
        current = _current_values(sorted({pk for pk, _ in cleaned.values() if pk is not None}))
        unknown = set()
        for index, (pk, _) in cleaned.items():
            if pk is not None and pk not in current:
                errors.setdefault(index, []).insert(0, f"prediction_id: there is no prediction {pk}.")
                if len(errors[index]) == 1:
                    unknown.add(index)
        if errors:
            raise ActualRowsError(errors, unknown=unknown)
        changes = [(pk, current[pk], value) for pk, value in cleaned.values() if current[pk] != value]
        if changes:
            _store(changes, user_id=user_id, now=timezone.now(), channel=channel)
    return ActualsRecorded(changed=len(changes), unchanged=len(cleaned) - len(changes))


def actual_charges_record(
    *,
    prediction_id: Any,
    actual_charges: Any,
    recorded_by: AbstractBaseUser | None,
    channel: str,
    allow_clear: bool = False,
) -> Prediction:
    """Record one prediction's actual charges (see ``actual_charges_record_many``); return the prediction as stored.

    Raises ActualRowsError (a ValidationError) whose ``unknown`` is set when no prediction has the id.
    """
    actual_charges_record_many(
        rows=[(prediction_id, actual_charges)], recorded_by=recorded_by, channel=channel, allow_clear=allow_clear
    )
    return Prediction.objects.select_related("model_version", "actual_recorded_by").get(pk=prediction_id)
