"""The golden predictions: what each committed model answers for a fixed set of patients.

``predictions.csv`` holds one patient a row (the six inputs) and, for each committed model
NAME, the columns ``NAME charges``, ``NAME low`` and ``NAME high`` in dollars and cents
(low and high empty for a model without an interval). ``make_golden.py`` wrote it once from
the committed artifacts; the tests compare the artifacts' answers with it, so a library
upgrade that changes predictions while the artifacts' hashes still match fails loudly.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

GOLDEN_CSV = Path(__file__).with_name("predictions.csv")
INPUT_TYPES = {"age": int, "sex": str, "bmi": float, "children": int, "smoker": str, "region": str}
ANSWERS = ("charges", "low", "high")
# How far an answer may be from the table: one cent (the table is rounded to cents) ...
TOLERANCE = 0.01
# ... except for a model whose own arithmetic is noisier than a cent. tutorial-lr-v1 is least
# squares on 54 collinear features: its coefficients reach 3.7e16, so its answers move by tens
# of dollars with the order of summation alone (a patient scored alone or in a batch differs by
# up to $69 on 2,000 random valid inputs, $37 on the data file), and so across CPUs and BLAS builds.
NOISY_MODEL_TOLERANCE = {"tutorial-lr-v1": 100.0}


def tolerance(model_name: str) -> float:
    """How far a model's answers may be from the table, in dollars."""
    return NOISY_MODEL_TOLERANCE.get(model_name, TOLERANCE)


def column(model_name: str, answer: str) -> str:
    """The table's column of one answer of one model, e.g. ``huber-blend-v1 charges``."""
    return f"{model_name} {answer}"


@dataclass(frozen=True)
class Golden:
    """One model's recorded answer for one patient."""

    charges: Decimal
    low: Decimal | None
    high: Decimal | None


def _read() -> tuple[list[str], list[dict[str, str]]]:
    with open(GOLDEN_CSV, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def models() -> list[str]:
    """The models the table has answers for."""
    header, _ = _read()
    return sorted({name.rsplit(" ", 1)[0] for name in header if name not in INPUT_TYPES})


def inputs() -> list[dict[str, Any]]:
    """Every patient of the table, typed as the form cleans them."""
    _, rows = _read()
    return [{name: kind(row[name]) for name, kind in INPUT_TYPES.items()} for row in rows]


def answers(model_name: str) -> list[Golden]:
    """One model's recorded answers, in the table's order."""
    _, rows = _read()
    return [
        Golden(*(Decimal(row[column(model_name, answer)]) if row[column(model_name, answer)] else None for answer in ANSWERS))
        for row in rows
    ]


def answer_for(patient: dict[str, Any], model_name: str) -> Golden:
    """The recorded answer of a model for a patient of the table (inputs compared as the form types them)."""
    typed = {name: kind(patient[name]) for name, kind in INPUT_TYPES.items()}
    for row, golden in zip(inputs(), answers(model_name), strict=True):
        if row == typed:
            return golden
    raise LookupError(f"{typed} is not in {GOLDEN_CSV.name}; add it to make_golden.PATIENTS and regenerate.")
