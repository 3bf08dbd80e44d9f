"""The one reader of the CSV files staff upload, at the bottom of the house: it knows a kind of file only
by its ``CsvKind`` (columns, what a row is, how its rows are checked), never what is done with one.

The kinds: patients' batch files (``predictor.batches.files``) and files of actual charges
(``predictor.actuals.files``). A file is taken whole or not at all: any problem (not CSV text,
missing columns, bad rows, too many rows) raises ``CsvFileError`` listing every problem with its line
number, and nothing is stored. ``csv_read`` reads a file whole; ``csv_chunks`` reads it a chunk of rows at
a time, for files of any length in bounded memory.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.template.defaultfilters import filesizeformat

# A page shows this many problems of a rejected file, then says how many more there are.
PROBLEMS_SHOWN = 100
# Rows a chunk of csv_chunks holds: a file of any length is read, checked and stored this many rows at a time.
CHUNK_ROWS = 50_000


class CsvFileError(Exception):
    """A file that cannot be taken; ``problems`` says why, one line each, bad rows with their line numbers."""

    def __init__(self, problems: list[str], *, bad_rows: int = 0):
        self.problems = problems
        self.bad_rows = bad_rows
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class CsvKind:
    """What a kind of file holds: its columns, what one row is, what is done with it, and the command without limits.

    ``rows_problems`` checks the well-formed rows of a file that has malformed ones too, so
    that one answer lists every problem: (index of the row, message) for each.
    """

    columns: tuple[str, ...]
    row_noun: str
    verb: str
    command: str
    rows_problems: Callable[[CsvTable], list[tuple[int, str]]]


@dataclass
class CsvTable:
    """A CSV file (or a chunk of one) as read: its header, every row's values and line number, and the needed
    columns of each row."""

    header: list[str]
    column_index: dict[str, int]
    rows: list[list[str]] = field(default_factory=list)
    line_numbers: list[int] = field(default_factory=list)
    # Rows with the wrong number of values, as (line number, message): only in a chunk of csv_chunks.
    problems: list[tuple[int, str]] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, str]]:
        return [{name: row[index].strip() for name, index in self.column_index.items()} for row in self.rows]


def column_name(name: str) -> str:
    """A header cell as the reader matches it: stripped, in lower case."""
    return name.strip().lower()


def csv_decode(data: bytes) -> str:
    """The text of an uploaded file (UTF-8, with or without Excel's byte-order mark)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            [f"This is not a UTF-8 text CSV file (byte {exc.start + 1} cannot be read). Save it as CSV (UTF-8)."]
        ) from exc


def csv_read(lines: Iterable[str], *, kind: CsvKind, max_rows: int | None = None) -> CsvTable:
    """Read CSV text whole: a header naming the kind's columns (any order, extra columns kept), then one row a line.

    The chunks of ``csv_chunks`` gathered in one table; a file with malformed rows raises CsvFileError
    listing them with the problems of its well-formed rows (the kind's ``rows_problems``)."""
    table: CsvTable | None = None
    problems: list[tuple[int, str]] = []
    for chunk in csv_chunks(lines, kind=kind, max_rows=max_rows):
        if table is None:
            table = CsvTable(header=chunk.header, column_index=chunk.column_index)
        table.rows += chunk.rows
        table.line_numbers += chunk.line_numbers
        problems += chunk.problems
    if problems:
        # Check the well-formed rows too, so that one answer lists every problem.
        well_formed = kind.rows_problems(table)
        raise csv_file_error(problems + [(table.line_numbers[index], message) for index, message in well_formed])
    return table


def csv_chunks(
    lines: Iterable[str], *, kind: CsvKind, size: int = CHUNK_ROWS, max_rows: int | None = None
) -> Iterator[CsvTable]:
    """Read CSV text as csv_read does, ``size`` rows at a time, so that memory does not grow with the file.

    Each chunk holds its well-formed rows and, in ``problems``, its rows with the wrong number of values
    (line number, message); whoever reads the chunks decides what a problem means. Refusals of the whole
    file raise CsvFileError when they are met: the header, text that is not CSV (or not UTF-8), NUL
    characters, more than ``max_rows`` rows, and (at the end) no rows at all; a chunk already handed over
    is then the reader's to undo.
    """
    columns = kind.columns
    reader = csv.reader(lines)
    try:
        header = next(reader, None)
        while header is not None and not any(cell.strip() for cell in header):
            header = next(reader, None)  # blank lines before the header
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CsvFileError([f"line {reader.line_num}: this is not CSV text ({_reason(exc)})."]) from exc
    if header is None:
        raise CsvFileError([f"The file is empty: it needs a header line naming the columns, then one row {kind.row_noun}."])
    _refuse_binary(header, reader.line_num)
    header_line = reader.line_num
    positions: dict[str, list[int]] = {}
    for index, name in enumerate(header):
        positions.setdefault(column_name(name), []).append(index)
    missing = [name for name in columns if name not in positions]
    if missing:
        raise CsvFileError(
            [
                f"line {header_line}: the header lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(missing)}. The first line must name the columns {', '.join(columns)} "
                f"(separated by commas, in any order); it reads: {','.join(header)[:200]!r}."
            ]
        )
    repeated = [name for name in columns if len(positions[name]) > 1]
    if repeated:
        raise CsvFileError([f"line {header_line}: the header names {', '.join(repeated)} more than once."])
    column_index = {name: positions[name][0] for name in columns}
    chunk = CsvTable(header=header, column_index=column_index)
    rows_read = 0
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise CsvFileError([f"line {line}: this is not CSV text ({_reason(exc)})."]) from exc
        if row is None:
            break
        if not any(map(str.strip, row)):
            continue  # blank lines, and the ",,,,," lines spreadsheets leave at the end
        _refuse_binary(row, line)
        if max_rows is not None and rows_read >= max_rows:
            raise CsvFileError(
                [f"The file has more than {max_rows:,} rows; split it, or use `manage.py {kind.command}`, which has no limit."]
            )
        rows_read += 1
        if len(row) != len(header):
            chunk.problems.append((line, f"has {len(row)} values, but the header names {len(header)} columns."))
        else:
            chunk.rows.append(row)
            chunk.line_numbers.append(line)
        if len(chunk.rows) + len(chunk.problems) >= size:
            yield chunk
            chunk = CsvTable(header=header, column_index=column_index)
    if not rows_read:
        raise CsvFileError([f"The file has a header (line {header_line}) but no rows to {kind.verb}."])
    if chunk.rows or chunk.problems:
        yield chunk


def _refuse_binary(row: list[str], line: int) -> None:
    # Python's csv module reads NUL characters as data; in a spreadsheet export they mean a binary file.
    if "\x00" in "".join(row):
        raise CsvFileError([f"line {line}: this is not CSV text (it contains NUL characters, as binary files do)."])


def _reason(exc: Exception) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "it is not UTF-8 text"
    return str(exc)


def upload_read(upload, *, command: str, kind: CsvKind, max_rows: int | None = None) -> CsvTable:
    """An uploaded file on a staff page (``upload_lines``), read whole like any other file of its kind."""
    return csv_read(upload_lines(upload, command=command), max_rows=max_rows, kind=kind)


def upload_lines(upload, *, command: str) -> list[str]:
    """The lines of an uploaded file on a staff page: refused over PREDICTOR_BATCH_PAGE_MAX_BYTES (naming the
    command without limits), then decoded."""
    limit = settings.PREDICTOR_BATCH_PAGE_MAX_BYTES
    if upload.size > limit:
        raise CsvFileError(
            [
                f"The file is {filesizeformat(upload.size)}; this page takes files up to {filesizeformat(limit)}. "
                f"Split it, or use `manage.py {command}`, which has no limit."
            ]
        )
    return csv_decode(upload.read()).splitlines(keepends=True)


def csv_file_error(problems: list[tuple[int, str]]) -> CsvFileError:
    """The error listing (line number, message) problems in line order, counting the bad rows."""
    problems = sorted(problems, key=lambda problem: problem[0])
    bad_rows = len({line for line, _ in problems})
    return CsvFileError([f"line {line}: {message}" for line, message in problems], bad_rows=bad_rows)


def problems_shown(error: CsvFileError) -> dict:
    """What an upload page shows of a rejected file: its first PROBLEMS_SHOWN problems, how many more, and the bad rows."""
    return {
        "problems": error.problems[:PROBLEMS_SHOWN],
        "more_problems": max(0, len(error.problems) - PROBLEMS_SHOWN),
        "bad_rows": error.bad_rows,
    }
