"""Patients' batch files: the CSV kind whose rows are patients, scored as one Batch and written back with a
``predicted_charges`` column. Read by the generic reader (``predictor.csv_io``); used by the staff page
(``views``), ``manage.py predict_csv`` and the forecast of a file."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import TextIO

import numpy as np

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from .. import columns, services
from ..csv_io import CsvFileError, CsvKind, CsvTable, column_name, csv_file_error, csv_read
from ..forms import PredictionForm
from ..models import Batch

COLUMNS = tuple(PredictionForm.base_fields)
OUTPUT_COLUMN = "predicted_charges"


def _row_problems(error: services.PredictionRowsError) -> list[tuple[int, str]]:
    return [(index, f"{name + ': ' if name else ''}{message}") for index, name, message in error.problems()]


def _table_text(table: CsvTable) -> dict[str, list[str]]:
    return {name: [row[index].strip() for row in table.rows] for name, index in table.column_index.items()}


def _patients_problems(table: CsvTable) -> list[tuple[int, str]]:
    try:
        columns.rows_clean_columns(_table_text(table))
    except services.PredictionRowsError as exc:
        return _row_problems(exc)
    return []


PATIENTS = CsvKind(columns=COLUMNS, row_noun="a patient", verb="predict", command="predict_csv", rows_problems=_patients_problems)


def batch_csv_read(lines: Iterable[str], *, max_rows: int | None = None) -> CsvTable:
    """Read a patients' file: a header naming the six inputs (any order, extra columns kept), then one patient a line."""
    return csv_read(lines, kind=PATIENTS, max_rows=max_rows)


def csv_rows_error(table: CsvTable, error: services.PredictionRowsError) -> CsvFileError:
    """The CsvFileError of a patients file whose rows the cleaning refused: every problem with its line number."""
    return csv_file_error([(table.line_numbers[index], message) for index, message in _row_problems(error)])


def table_columns_clean(table: CsvTable) -> dict[str, np.ndarray]:
    """A patients file's six inputs as cleaned columns (``columns.rows_clean_columns``, the form's cleaning);
    CsvFileError with every bad row's line number and problems if any row is bad."""
    try:
        return columns.rows_clean_columns(_table_text(table))
    except services.PredictionRowsError as exc:
        raise csv_rows_error(table, exc) from exc


def batch_score(
    *,
    table: CsvTable,
    file_name: str,
    created_by: AbstractBaseUser | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[Batch, services.StoredPredictions]:
    """Score every row of a file as one Batch, through columns; raise CsvFileError with line numbers if any row is bad."""
    cleaned = table_columns_clean(table)
    if progress:
        progress("validated", len(table.rows))
    try:
        return services.batch_create(columns=cleaned, file_name=file_name, created_by=created_by, progress=progress)
    except ValidationError as exc:
        raise CsvFileError(exc.messages) from exc


def csv_write(table: CsvTable, charges: Sequence[str], out: TextIO) -> None:
    """The file as read, with each row's predicted charges (as stored, ``StoredPredictions.charges``) in a
    ``predicted_charges`` column (added or replaced)."""
    header = list(table.header)
    existing = [index for index, name in enumerate(header) if column_name(name) == OUTPUT_COLUMN]
    if existing:
        position = existing[0]
    else:
        position = len(header)
        header.append(OUTPUT_COLUMN)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row, charge in zip(table.rows, charges, strict=True):
        row = list(row)
        if position == len(row):
            row.append(charge)
        else:
            row[position] = charge
        writer.writerow(row)


def csv_text(table: CsvTable, charges: Sequence[str]) -> str:
    """``csv_write`` into a string, for a download."""
    out = io.StringIO()
    csv_write(table, charges, out)
    return out.getvalue()
