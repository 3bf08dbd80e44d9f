"""Files of actual charges: ``prediction_id,actual_charges`` CSV text, read by the generic reader
(``predictor.csv_io``) and recorded whole or not at all; any problem raises ``CsvFileError`` listing
each with its line number, like batch files."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection

from .. import csv_io
from .columns import actual_columns_check, actual_columns_record
from .services import COLUMNS, ActualRowsError, ActualsRecorded, RowLabel, actual_charges_record_many


@dataclass
class ActualsTable:
    """A file of actual charges as read: (prediction_id, actual_charges) text per row, with its line number."""

    rows: list[tuple[str, str]]
    line_numbers: list[int]


def _pairs(table: csv_io.CsvTable) -> list[tuple[str, str]]:
    return [(record["prediction_id"], record["actual_charges"]) for record in table.records]


def _file_rows_problems(table: csv_io.CsvTable) -> list[tuple[int, str]]:
    # Without the database: the file's own problems (values, repeated ids).
    pairs = _pairs(table)
    checked = actual_columns_check([pk for pk, _ in pairs], [value for _, value in pairs], row_label=_line_label(table))
    return [(index, message) for index, messages in sorted(checked.errors.items()) for message in messages]


ACTUALS = csv_io.CsvKind(
    columns=COLUMNS, row_noun="a prediction", verb="record", command="record_actuals", rows_problems=_file_rows_problems
)


def actuals_upload_read(upload) -> ActualsTable:
    """A file of actual charges uploaded on the staff page (size-limited like batch files)."""
    return _actuals_table(csv_io.upload_read(upload, command="record_actuals", kind=ACTUALS))


def actuals_csv_read(lines: Iterable[str], *, max_rows: int | None = None) -> ActualsTable:
    """Read CSV text: a header naming ``prediction_id`` and ``actual_charges`` (any order, other columns ignored), then one row a prediction."""
    return _actuals_table(csv_io.csv_read(lines, max_rows=max_rows, kind=ACTUALS))


def _actuals_table(table: csv_io.CsvTable) -> ActualsTable:
    return ActualsTable(rows=_pairs(table), line_numbers=table.line_numbers)


def _line_label(table: ActualsTable | csv_io.CsvTable) -> RowLabel:
    return lambda index: f"line {table.line_numbers[index]}"


def actuals_file_record(
    *, table: ActualsTable, recorded_by: AbstractBaseUser | None, channel: str
) -> ActualsRecorded:
    """Record every row of a file, all or nothing; raise CsvFileError with line numbers if any row is bad.

    On PostgreSQL as columns (``columns``: plain values checked as arrays, set-based lookups and writes);
    elsewhere (SQLite, the local quick run) row by row (``services.actual_charges_record_many``)."""
    try:
        if connection.vendor != "postgresql":
            return actual_charges_record_many(
                rows=table.rows, recorded_by=recorded_by, channel=channel, row_label=_line_label(table)
            )
        checked = actual_columns_check([pk for pk, _ in table.rows], [value for _, value in table.rows],
                                       row_label=_line_label(table))
        return actual_columns_record(checked=checked, recorded_by=recorded_by, channel=channel)
    except ActualRowsError as exc:
        raise csv_io.csv_file_error([(table.line_numbers[index], message) for index, message in exc.problems()]) from exc
