"""What a generated document is made of: figures that name their source and date, the blocks that hold
them, and the numbered sections. Templates render it (Markdown and HTML); tests walk it.

A ``Figure`` keeps the value exactly as its source holds it (the card's float, the setting's integer)
and a machine-readable ``ref`` to that source, so a test can read the source again and compare; its
``text`` is how the document prints it. Nothing here computes a number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# How a figure's value is printed, by kind.
KINDS = ("money", "percent", "count", "number", "text", "flag", "days", "seconds", "rate")


@dataclass(frozen=True)
class Figure:
    """One value from the product: what it is, the value as the source holds it, where it was read and when.

    ``ref`` locates the source for a machine: ``("card", version, "holdout.mae")``, ``("setting", NAME)``,
    ``("constant", module, NAME)``, ``("installed", distribution)``, ``("template", "Parameters.X.Default")``,
    ``("database", table, key, field)``, ``("live", slice, key, measure)`` or ``("provider", "dotted.key")``.
    """

    label: str
    value: Any
    source: str
    date: str
    kind: str = "number"
    ref: tuple = ()
    digits: int | None = None

    @property
    def text(self) -> str:
        """The value as the document prints it."""
        value = self.value
        if value is None:
            return "not set"
        if self.kind == "flag":
            return "yes" if value else "no"
        if isinstance(value, (list, tuple)) and self.kind != "rate":
            return ", ".join(str(item) for item in value)
        if self.kind == "rate":
            return f"{value[0]:,} requests per {value[1]:,} s"
        if self.kind == "text" or isinstance(value, str):
            return str(value)
        if self.kind == "money":
            digits = 2 if self.digits is None else self.digits
            return f"{'-' if value < 0 else ''}${abs(value):,.{digits}f}"
        if self.kind == "percent":
            return f"{value:.{1 if self.digits is None else self.digits}%}"
        if self.kind == "days":
            return f"{value:,} days"
        if self.kind == "seconds":
            return f"{value:,} s"
        if self.kind == "count" or isinstance(value, int):
            return f"{value:,}"
        return f"{value:,.{self.digits}f}" if self.digits is not None else f"{value:,}"


@dataclass(frozen=True)
class Estimate:
    """A figure with its interval, printed "value (low to high)"; ``note`` when there is no interval."""

    value: Figure
    low: Figure | None = None
    high: Figure | None = None
    note: str = ""

    @property
    def text(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.value.text} ({self.low.text} to {self.high.text})"
        return f"{self.value.text} ({self.note})" if self.note else self.value.text

    def figures(self) -> Iterator[Figure]:
        yield from (part for part in (self.value, self.low, self.high) if part is not None)


Cell = Figure | Estimate | str | None


def cell_text(cell: Cell) -> str:
    """A table cell's text: empty where the source has no such value."""
    if cell is None:
        return ""
    return cell if isinstance(cell, str) else cell.text


@dataclass(frozen=True)
class Text:
    """A paragraph written by the product (no figure in it that is not also in a block)."""

    text: str
    kind: str = "text"


@dataclass(frozen=True)
class Items:
    """A bulleted list of statements."""

    items: tuple[str, ...]
    kind: str = "items"


@dataclass(frozen=True)
class Facts:
    """A table of figures, one a row, each with its value, source and date."""

    rows: tuple[Figure | Estimate, ...]
    kind: str = "facts"

    @property
    def lines(self) -> list[tuple[str, str, str, str]]:
        return [
            (row.label, row.text, row.source, row.date) if isinstance(row, Figure)
            else (row.value.label, row.text, row.value.source, row.value.date)
            for row in self.rows
        ]


@dataclass(frozen=True)
class Table:
    """A table of figures sharing one source and date, which its caption names."""

    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    source: str
    date: str
    kind: str = "table"

    @property
    def cells(self) -> list[list[str]]:
        return [[cell_text(cell) for cell in row] for row in self.rows]


@dataclass(frozen=True)
class Missing:
    """Something the document should say and cannot: what, and how to fill it. Shown visibly."""

    what: str
    fix: str
    kind: str = "missing"


Block = Text | Items | Facts | Table | Missing


@dataclass
class Point:
    """A numbered sub-point of a section, "2(g)", with its blocks."""

    number: str
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Section:
    number: str
    title: str
    points: list[Point] = field(default_factory=list)


@dataclass
class Document:
    """A generated document: the technical file (Annex IV) or the instructions for use (Art. 13(3))."""

    slug: str  # technical-file or instructions-for-use
    title: str
    generated_at: str
    model: str | None  # the version the document describes (the champion)
    provider_path: str
    sections: list[Section] = field(default_factory=list)

    def blocks(self) -> Iterator[Block]:
        for section in self.sections:
            for point in section.points:
                yield from point.blocks

    def figures(self) -> Iterator[Figure]:
        """Every figure the document prints, each once per place it appears."""
        for block in self.blocks():
            if isinstance(block, Facts):
                for row in block.rows:
                    yield from (row.figures() if isinstance(row, Estimate) else (row,))
            elif isinstance(block, Table):
                for row in block.rows:
                    for cell in row:
                        if isinstance(cell, Figure):
                            yield cell
                        elif isinstance(cell, Estimate):
                            yield from cell.figures()

    @property
    def missing(self) -> list[Missing]:
        return [block for block in self.blocks() if isinstance(block, Missing)]
