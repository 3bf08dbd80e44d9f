"""Patients' batch files: the CSV kind whose rows are patients, scored as one Batch and written back with a
``predicted_charges`` column. Read by the generic reader (``predictor.csv_io``); used by the staff page
(``views``), ``manage.py predict_csv`` and the forecast of a file."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from typing import TextIO

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from .. import services
from ..csv_io import CsvFileError, CsvKind, CsvTable, column_name, csv_file_error, csv_read
from ..forms import PredictionForm
from ..models import Batch, Prediction

COLUMNS = tuple(PredictionForm.base_fields)
OUTPUT_COLUMN = "predicted_charges"


def _row_problems(error: services.PredictionRowsError) -> list[tuple[int, str]]:
    return [(index, f"{name + ': ' if name else ''}{message}") for index, name, message in error.problems()]


def _patients_problems(table: CsvTable) -> list[tuple[int, str]]:
    try:
        services.prediction_rows_clean(table.records)
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


def batch_score(
    *,
    table: CsvTable,
    file_name: str,
    created_by: AbstractBaseUser | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[Batch, list[Prediction]]:
    """Score every row of a file as one Batch; raise CsvFileError with line numbers if any row is bad."""
    try:
        return services.batch_create(
            rows=table.records, file_name=file_name, created_by=created_by, progress=progress
        )
    except services.PredictionRowsError as exc:
        raise csv_rows_error(table, exc) from exc
    except ValidationError as exc:
        raise CsvFileError(exc.messages) from exc


def csv_write(table: CsvTable, predictions: list[Prediction], out: TextIO) -> None:
    """The file as read, with each row's predicted charges in a ``predicted_charges`` column (added or replaced)."""
    header = list(table.header)
    existing = [index for index, name in enumerate(header) if column_name(name) == OUTPUT_COLUMN]
    if existing:
        position = existing[0]
    else:
        position = len(header)
        header.append(OUTPUT_COLUMN)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row, prediction in zip(table.rows, predictions, strict=True):
        row = list(row)
        if position == len(row):
            row.append(str(prediction.predicted_charges))
        else:
            row[position] = str(prediction.predicted_charges)
        writer.writerow(row)


def csv_text(table: CsvTable, predictions: list[Prediction]) -> str:
    """``csv_write`` into a string, for a download."""
    out = io.StringIO()
    csv_write(table, predictions, out)
    return out.getvalue()
