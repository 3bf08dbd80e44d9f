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
from django.db import transaction

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


def _line_problems(table: CsvTable, error: services.PredictionRowsError) -> list[tuple[int, str]]:
    """The cleaning's problems of a file's (or a chunk's) rows, each with its line number."""
    return [(table.line_numbers[index], message) for index, message in _row_problems(error)]


def csv_rows_error(table: CsvTable, error: services.PredictionRowsError) -> CsvFileError:
    """The CsvFileError of a patients file whose rows the cleaning refused: every problem with its line number."""
    return csv_file_error(_line_problems(table, error))


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
) -> Batch:
    """Score every row of a file read whole as one Batch (``batch_score_chunks`` of one chunk)."""
    return batch_score_chunks(chunks=[table], file_name=file_name, created_by=created_by, progress=progress)


def batch_score_chunks(
    *,
    chunks: Iterable[CsvTable],
    file_name: str,
    created_by: AbstractBaseUser | None = None,
    out: TextIO | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> Batch:
    """Score a file's chunks (``csv_io.csv_chunks``) as one Batch, all or nothing, in one transaction; each chunk
    is cleaned as columns, predicted, stored with COPY and, with ``out``, written with its predicted charges.

    After the first bad row nothing more is predicted or stored, but every further chunk is still checked,
    so that the CsvFileError raised at the end (the transaction undone) lists every problem with its line
    number. ``progress(stage, rows_done)`` counts the file's rows, not a chunk's.
    """
    problems: list[tuple[int, str]] = []
    writer: ScoredCsvWriter | None = None
    done = 0
    try:
        with transaction.atomic():
            scoring = services.batch_start(file_name=file_name, created_by=created_by)
            for chunk in chunks:
                problems += chunk.problems
                try:
                    cleaned = columns.rows_clean_columns(_table_text(chunk)) if chunk.rows else None
                except services.PredictionRowsError as exc:
                    problems += _line_problems(chunk, exc)
                    continue
                if problems or cleaned is None:
                    continue  # checking only: nothing of this file will be stored
                offset = done
                report = progress and (lambda stage, rows: progress(stage, offset + rows))
                if report:
                    report("validated", len(chunk.rows))
                stored = services.batch_chunk_create(scoring=scoring, columns=cleaned, progress=report)
                done += len(stored)
                if out is not None:
                    writer = writer or ScoredCsvWriter(chunk.header, out)
                    writer.rows(chunk.rows, stored.charges)
            if problems:
                raise csv_file_error(problems)
            return services.batch_finish(scoring)
    except ValidationError as exc:
        raise CsvFileError(exc.messages) from exc


class ScoredCsvWriter:
    """Writes a file as read, with each row's predicted charges (as stored, ``StoredPredictions.charges``) in a
    ``predicted_charges`` column (added or replaced): the header first, then the rows a chunk at a time."""

    def __init__(self, header: Sequence[str], out: TextIO):
        header = list(header)
        existing = [index for index, name in enumerate(header) if column_name(name) == OUTPUT_COLUMN]
        if existing:
            self.position = existing[0]
        else:
            self.position = len(header)
            header.append(OUTPUT_COLUMN)
        self.writer = csv.writer(out, lineterminator="\n")
        self.writer.writerow(header)

    def rows(self, rows: Iterable[Sequence[str]], charges: Sequence[str]) -> None:
        position = self.position
        for row, charge in zip(rows, charges, strict=True):
            row = list(row)
            if position == len(row):
                row.append(charge)
            else:
                row[position] = charge
            self.writer.writerow(row)


def csv_write(table: CsvTable, charges: Sequence[str], out: TextIO) -> None:
    """The file as read, with each row's predicted charges in a ``predicted_charges`` column (``ScoredCsvWriter``)."""
    ScoredCsvWriter(table.header, out).rows(table.rows, charges)


def csv_text(table: CsvTable, charges: Sequence[str]) -> str:
    """``csv_write`` into a string, for a download."""
    out = io.StringIO()
    csv_write(table, charges, out)
    return out.getvalue()
