"""Files of actual charges as columns: checked with NumPy where the values are plain, recorded with set-based SQL.

``actual_columns_check`` reads plain text (an id of at most ID_DIGITS ASCII digits; an amount of ASCII
digits with at most one point between digits, below $1,000,000) as arrays, and sends every other value
through ``services.prediction_id_clean`` and ``services.actual_charges_clean``, so each message is the
row-by-row one (``services.actual_rows_check``; tests/actuals/test_columns.py proves the two equal).
``actual_columns_record`` looks the current values up ARRAY_ROWS ids at a time (locked until the
transaction ends) and stores the changes with one UPDATE from arrays and COPY of the audit trail: all or
nothing, and the same file twice changes nothing. PostgreSQL only (``files`` takes the row path elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from .. import pg_copy
from ..columns import plain_numbers
from ..models import ActualChargeChange, Prediction
from .services import (MAX_ACTUAL_CHARGES, MAX_ID, MAX_TEXT_LENGTH, ActualRowsError, ActualsRecorded, RowLabel,
                       actual_charges_clean, prediction_id_clean)

# Plain ids: at most this many digits, so every one fits a bigint.
ID_DIGITS = 18
# Ids looked up per statement.
ARRAY_ROWS = 50_000
# Plain amounts: at most this many digits before the point, so every one is below the largest amount.
_WHOLE_DIGITS = len(str(int(MAX_ACTUAL_CHARGES))) - 1
NONE = -1  # no value: in ``ids``, no usable id; in cents, no amount (a NULL stored)


@dataclass
class ActualColumns:
    """A file's rows checked: ids and amounts in cents (int64 arrays, NONE where there is none), every
    problem found without the database by row index, and the ids beyond any bigint by row index."""

    ids: np.ndarray
    cents: np.ndarray
    errors: dict[int, list[str]]
    huge_ids: dict[int, int]


def actual_columns_check(ids: Sequence[str], values: Sequence[str], *, row_label: RowLabel) -> ActualColumns:
    """``services.actual_rows_check`` (no clearing) of a file's stripped text, plain values as arrays."""
    count = len(ids)
    id_text, id_plain = plain_numbers(ids, decimal=False, max_length=ID_DIGITS)
    value_text, value_plain = plain_numbers(values, decimal=True, max_length=MAX_TEXT_LENGTH)
    parts = np.char.partition(value_text, ".") if count else np.zeros((0, 3), dtype=str)
    value_plain &= np.char.str_len(parts[:, 0]) <= _WHOLE_DIGITS
    checked = ActualColumns(ids=np.full(count, NONE, dtype=np.int64), cents=np.full(count, NONE, dtype=np.int64),
                            errors={}, huge_ids={})
    checked.ids[id_plain] = id_text[id_plain].astype(np.int64)
    if value_plain.any():
        # Rounded half up to the cent from the digits, as Decimal.quantize rounds: exact, no float.
        thousandths = np.char.ljust(parts[value_plain, 2].astype("U3"), 3, "0").astype(np.int64)
        checked.cents[value_plain] = (parts[value_plain, 0].astype(np.int64) * 100 + thousandths // 10
                                      + (thousandths % 10 >= 5))
    for index in np.flatnonzero(~(id_plain & value_plain)).tolist():
        messages = []
        try:
            pk = prediction_id_clean(ids[index])
        except ValidationError as exc:
            messages += [f"prediction_id: {message}" for message in exc.messages]
        else:
            if pk <= MAX_ID:
                checked.ids[index] = pk
            else:
                checked.huge_ids[index] = pk
        try:
            checked.cents[index] = int(actual_charges_clean(values[index]) * 100)
        except ValidationError as exc:
            messages += [f"actual_charges: {message}" for message in exc.messages]
        if messages:
            checked.errors[index] = messages
    for index, first, pk in _repeated(checked):
        checked.errors.setdefault(index, []).append(
            f"prediction_id: prediction {pk} is on {row_label(first)} too; give each prediction one value."
        )
    return checked


def _repeated(checked: ActualColumns) -> list[tuple[int, int, int]]:
    """(row, the first row with its id, the id) of every row whose id an earlier row has."""
    rows = np.flatnonzero(checked.ids != NONE)
    order = np.argsort(checked.ids[rows], kind="stable")  # stable: each id's rows in file order
    rows, sorted_ids = rows[order], checked.ids[rows[order]]
    again = np.zeros(len(rows), dtype=bool)
    again[1:] = sorted_ids[1:] == sorted_ids[:-1]
    firsts = rows[np.flatnonzero(~again)][np.cumsum(~again) - 1]
    repeated = list(zip(rows[again].tolist(), firsts[again].tolist(), sorted_ids[again].tolist()))
    first_huge: dict[int, int] = {}
    for index, pk in checked.huge_ids.items():  # ids no bigint holds: rare, one by one
        if pk in first_huge:
            repeated.append((index, first_huge[pk], pk))
        else:
            first_huge[pk] = index
    return repeated


def _array(numbers: np.ndarray) -> str:
    # One literal: a Python list is sent as ARRAY[1, 2, ...], an expression PostgreSQL parses value by value.
    return "{" + ",".join(map(str, numbers.tolist())) + "}"


def _cents_text(cents: np.ndarray) -> list[str]:
    return [pg_copy.NULL if cent == NONE else f"{cent // 100}.{cent % 100:02d}" for cent in cents.tolist()]


def actual_columns_record(
    *, checked: ActualColumns, recorded_by: AbstractBaseUser | None, channel: str
) -> ActualsRecorded:
    """Record checked rows: all of them, or none and ActualRowsError naming every bad row (unknown ids too)."""
    ActualChargeChange._meta.get_field("channel").clean(channel, None)
    count = len(checked.ids)
    user_id = recorded_by.pk if recorded_by is not None else None
    table = connection.ops.quote_name(Prediction._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        wanted = np.unique(checked.ids[checked.ids != NONE])
        found, stored = [], []
        for start in range(0, len(wanted), ARRAY_ROWS):
            cursor.execute(
                f"SELECT id, COALESCE((actual_charges * 100)::bigint, {NONE}) FROM {table}"
                " WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                [_array(wanted[start : start + ARRAY_ROWS])],
            )
            for pk, cents in cursor.fetchall():
                found.append(pk)
                stored.append(cents)
        found_ids, current = np.array(found, dtype=np.int64), np.array(stored, dtype=np.int64)
        position = np.clip(np.searchsorted(found_ids, checked.ids), 0, max(len(found_ids) - 1, 0))
        known = (checked.ids != NONE) & (found_ids[position] == checked.ids) if len(found_ids) else np.zeros(count, bool)
        errors = {index: list(messages) for index, messages in checked.errors.items()}
        unknown = set()
        missing = [(index, int(checked.ids[index])) for index in np.flatnonzero((checked.ids != NONE) & ~known).tolist()]
        for index, pk in sorted(missing + list(checked.huge_ids.items())):
            errors.setdefault(index, []).insert(0, f"prediction_id: there is no prediction {pk}.")
            if len(errors[index]) == 1:
                unknown.add(index)
        if errors:
            raise ActualRowsError(errors, unknown=unknown)
        previous = current[position]
        changed = np.flatnonzero(previous != checked.cents)
        now = timezone.now()
        if len(changed):
            ids, new = checked.ids[changed], checked.cents[changed]
            # One statement for every change: PostgreSQL may join it by scanning the table, once.
            cursor.execute(
                f"UPDATE {table} AS p SET actual_charges = CASE WHEN v.cents = {NONE} THEN NULL ELSE v.cents * 0.01 END,"
                " actual_recorded_by_id = %s, actual_recorded_at = %s"
                " FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, cents) WHERE p.id = v.id",
                [user_id, now, _array(ids), _array(new)],
            )
            pg_copy.columns_insert(ActualChargeChange, {
                "prediction_id": list(map(str, ids.tolist())),
                "previous_charges": _cents_text(previous[changed]),
                "actual_charges": _cents_text(new),
                "changed_by_id": pg_copy.NULL if user_id is None else str(user_id),
                "changed_at": now.isoformat(),
                "channel": channel,
            }, count=len(changed))
    return ActualsRecorded(changed=len(changed), unchanged=count - len(changed))
