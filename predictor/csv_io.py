"""Batch files: read a CSV of patients, score it through the services, write it back with ``predicted_charges``.

Used by the staff upload page and ``manage.py predict_csv``. A file is scored whole or
not at all: any problem (not CSV text, missing columns, bad rows, too many rows) raises
``BatchFileError`` listing every problem with its line number, and nothing is stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TextIO

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError

from . import services
from .forms import PredictionForm
from .models import Batch, Prediction

COLUMNS = tuple(PredictionForm.base_fields)
OUTPUT_COLUMN = "predicted_charges"


class BatchFileError(Exception):
    """A file that cannot be scored; ``problems`` says why, one line each, bad rows with their line numbers."""

    def __init__(self, problems: list[str], *, bad_rows: int = 0):
        self.problems = problems
        self.bad_rows = bad_rows
        super().__init__("\n".join(problems))


@dataclass
class CsvTable:
    """A CSV file as read: its header, every row's values and line number, and the six inputs of each row."""

    header: list[str]
    column_index: dict[str, int]
    rows: list[list[str]] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, str]]:
        return [{name: row[index].strip() for name, index in self.column_index.items()} for row in self.rows]


def _normalise(name: str) -> str:
    return name.strip().lower()


def csv_decode(data: bytes) -> str:
    """The text of an uploaded file (UTF-8, with or without Excel's byte-order mark)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BatchFileError(
            [f"This is not a UTF-8 text CSV file (byte {exc.start + 1} cannot be read). Save it as CSV (UTF-8)."]
        ) from exc


def csv_read(lines: Iterable[str], *, max_rows: int | None = None) -> CsvTable:
    """Read CSV text: a header naming the six columns (any order, extra columns kept), then one patient a line."""
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # blank lines before the header
    except (csv.Error, UnicodeDecodeError) as exc:
        raise BatchFileError([f"line {reader.line_num}: this is not CSV text ({_reason(exc)})."]) from exc
    if header is None:
        raise BatchFileError(["The file is empty: it needs a header line naming the columns, then one row a patient."])
    _refuse_binary(header, reader.line_num)
    header_line = reader.line_num
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        positions.setdefault(_normalise(name), []).append(index)
    missing = [name for name in COLUMNS if name not in positions]
    if missing:
        raise BatchFileError(
            [
                f"line {header_line}: the header lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}. The first line must name the columns {', '.join(COLUMNS)} "
                f"(separated by commas, in any order); it reads: {','.join(header)[:200]!r}."
            ]
        )
    repeated = [name for name in COLUMNS if len(positions[name]) > 1]
    if repeated:
        raise BatchFileError([f"line {header_line}: the header names {', '.join(repeated)} more than once."])
    table = CsvTable(header=header, column_index={name: positions[name][0] for name in COLUMNS})
    problems: list[tuple[int, str]] = []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise BatchFileError([f"line {line}: this is not CSV text ({_reason(exc)})."]) from exc
        if row is None:
            break
        if not any(cell.strip() for cell in row):
            continue  # blank lines, and the ",,,,," lines spreadsheets leave at the end
        _refuse_binary(row, line)
        if max_rows is not None and len(table.rows) + len(problems) >= max_rows:
            raise BatchFileError(
                [f"The file has more than {max_rows:,} rows; split it, or use `manage.py predict_csv`, which has no limit."]
            )
        if len(row) != len(header):
            problems.append((line, f"has {len(row)} values, but the header names {len(header)} columns."))
            continue
        table.rows.append(row)
        table.line_numbers.append(line)
    if not table.rows and not problems:
        raise BatchFileError([f"The file has a header (line {header_line}) but no rows to predict."])
    if problems:
        # Check the well-formed rows too, so that one answer lists every problem.
        raise _file_error(table, problems)
    return table


def _refuse_binary(row: list[str], line: int) -> None:
    # Python's csv module reads NUL characters as data; in a spreadsheet export they mean a binary file.
    if any("\x00" in cell for cell in row):
        raise BatchFileError([f"line {line}: this is not CSV text (it contains NUL characters, as binary files do)."])


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return str(exc)


def _row_problems(table: CsvTable, error: services.PredictionRowsError) -> list[tuple[int, str]]:
    return [
        (table.line_numbers[index], f"{name + ': ' if name else ''}{message}")
        for index, name, message in error.problems()
    ]


def _file_error(table: CsvTable, problems: list[tuple[int, str]]) -> BatchFileError:
    try:
        services.prediction_rows_clean(table.records)
    except services.PredictionRowsError as exc:
        problems = problems + _row_problems(table, exc)
    return _as_error(problems)


def _as_error(problems: list[tuple[int, str]]) -> BatchFileError:
    problems = sorted(problems, key=lambda problem: problem[0])
    bad_rows = len({line for line, _ in problems})
    return BatchFileError([f"line {line}: {message}" for line, message in problems], bad_rows=bad_rows)


def csv_rows_error(table: CsvTable, error: services.PredictionRowsError) -> BatchFileError:
    """The BatchFileError of a file whose rows the cleaning refused: every problem with its line number."""
    return _as_error(_row_problems(table, error))


def batch_score(
    *,
    table: CsvTable,
    file_name: str,
    created_by: AbstractBaseUser | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[Batch, list[Prediction]]:
    """Score every row of a file as one Batch; raise BatchFileError with line numbers if any row is bad."""
    try:
        return services.batch_create(
            rows=table.records, file_name=file_name, created_by=created_by, progress=progress
        )
    except services.PredictionRowsError as exc:
        raise _as_error(_row_problems(table, exc)) from exc
    except ValidationError as exc:
        raise BatchFileError(exc.messages) from exc


def csv_write(table: CsvTable, predictions: list[Prediction], out: TextIO) -> None:
    """The file as read, with each row's predicted charges in a ``predicted_charges`` column (added or replaced)."""
    header = list(table.header)
    existing = [index for index, name in enumerate(header) if _normalise(name) == OUTPUT_COLUMN]
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
