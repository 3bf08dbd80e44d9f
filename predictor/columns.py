"""Input cleaning with PredictionForm's fields: one record, rows one by one, and columns of a file quickly.

``prediction_input_clean`` and ``prediction_rows_clean`` run the form's own fields (the services use
them; ``services`` names them too). Batch files (``predictor.batches.files``: ``predict_csv``, the staff
page) and the forecast of a file (``predictor.forecasts.cohorts``) read their rows through
``rows_clean_columns``: plain values (ASCII digits in range, a choice as written) are checked as NumPy
arrays, and any row holding another value goes through ``prediction_rows_clean``, so every message stays
the form's. tests/test_columns.py proves the two equal on the data file, random valid rows and every bad kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from django import forms as django_forms
from django.core.exceptions import ValidationError

from .forms import MAX_NUMBER_LENGTH, PredictionForm

NOT_A_RECORD = "Each row must be a record with the fields age, sex, bmi, children, smoker and region."
# Progress is reported every this many rows, so a callback costs nothing measurable.
PROGRESS_EVERY = 1000

Progress = Callable[[str, int], None]

# Cleaned one by one: exactly what binding the form does (it has no form-wide clean), without
# building a form per row, which costs most of a batch's time.
_INPUT_FIELDS = tuple(PredictionForm.base_fields.items())


def _input_clean(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, field in _INPUT_FIELDS:
        try:
            cleaned[name] = field.clean(data.get(name))
        except ValidationError as exc:
            errors[name] = exc.messages
    return cleaned, errors


def prediction_input_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate raw inputs with PredictionForm's fields; raise ValidationError naming each bad field."""
    cleaned, errors = _input_clean(data)
    if errors:
        raise ValidationError(errors)
    return cleaned


class PredictionRowsError(ValidationError):
    """Some rows of a batch are not valid; ``row_errors`` maps each bad row's index to its field messages."""

    def __init__(self, row_errors: dict[int, dict[str, list[str]]]):
        self.row_errors = dict(sorted(row_errors.items()))
        super().__init__([f"row {index}, {field}: {message}" for index, field, message in self.problems()])

    def problems(self) -> Iterator[tuple[int, str | None, str]]:
        """Every problem as (row index, field or None for the whole row, message), in row order."""
        for index, fields in self.row_errors.items():
            for field, messages in fields.items():
                for message in messages:
                    yield index, None if field == "__all__" else field, message


def prediction_rows_clean(rows: Sequence[Any], *, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Validate every row with PredictionForm's fields; raise PredictionRowsError naming every bad row and field."""
    cleaned: list[dict[str, Any]] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            errors[index] = {"__all__": [NOT_A_RECORD]}
        else:
            values, row_errors = _input_clean(row)
            if row_errors:
                errors[index] = row_errors
            else:
                cleaned.append(values)
        if progress and (index + 1) % PROGRESS_EVERY == 0:
            progress("validated", index + 1)
    if progress:
        progress("validated", len(rows))
    if errors:
        raise PredictionRowsError(errors)
    return cleaned


# ---------------------------------------------------------------------------
# Columns of a file's text, checked as arrays

_FIELDS = PredictionForm.base_fields
_CHOICES = {
    name: sorted(str(value) for value, _ in field.choices if value != "")
    for name, field in _FIELDS.items()
    if isinstance(field, django_forms.ChoiceField)
}
_NUMBERS = {
    name: (field.min_value, field.max_value, isinstance(field, django_forms.FloatField))
    for name, field in _FIELDS.items()
    if not isinstance(field, django_forms.ChoiceField)
}
_ZERO, _NINE, _DOT = ord("0"), ord("9"), ord(".")


def plain_numbers(
    values: Sequence[str], decimal: bool, max_length: int = MAX_NUMBER_LENGTH
) -> tuple[np.ndarray, np.ndarray]:
    """(the text as an array, which values are plain): ASCII digits (for a decimal, with at most one point
    that has a digit on each side), at most ``max_length`` characters; text that the form's field reads
    as the same number ``float`` reads (files of actual charges use it too)."""
    text = np.asarray(values, dtype=str)
    length = np.fromiter(map(len, values), dtype=np.int64, count=len(text))
    # NumPy drops trailing NULs: a value whose length changed is not plain.
    plain = (length > 0) & (length <= max_length) & (np.char.str_len(text) == length)
    width = text.dtype.itemsize // 4
    if not plain.any() or width == 0:
        return text, plain
    points = text.view(np.uint32).reshape(len(text), width)  # one code point a cell, zero-padded on the right
    used = np.arange(width) < length[:, None]
    digit = (points >= _ZERO) & (points <= _NINE)
    if not decimal:
        return text, plain & (digit | ~used).all(axis=1)
    dot = points == _DOT
    last = np.take_along_axis(points, np.clip(length - 1, 0, width - 1)[:, None], axis=1)[:, 0]
    plain &= (digit | dot | ~used).all(axis=1) & (dot.sum(axis=1) <= 1) & (points[:, 0] != _DOT) & (last != _DOT)
    return text, plain


def _numbers(values: Sequence[str], low: float, high: float, decimal: bool) -> tuple[np.ndarray, np.ndarray]:
    """(the numbers, which are plain and in range) of a column of stripped text; 0 where not."""
    text, plain = plain_numbers(values, decimal)
    numbers = np.zeros(len(text), dtype="float64")
    # float() is what the form's fields read (int() equals it on these digits below 2**53).
    numbers[plain] = np.fromiter(map(float, text[plain].tolist()), dtype="float64", count=int(plain.sum()))
    good = plain & (numbers >= low) & (numbers <= high)
    return np.where(good, numbers, 0.0), good


def rows_clean_columns(columns: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """Every row's six inputs (columns of stripped text) cleaned exactly as PredictionForm's fields clean them.

    The answer's columns: age and children as int64, bmi as float64, the choices as arrays of Python
    words (dtype object). Any row with a value that is not plain goes through
    ``prediction_rows_clean``, which raises PredictionRowsError with the form's messages, by row index.
    """
    length = len(next(iter(columns.values())))
    cleaned: dict[str, np.ndarray] = {}
    odd = np.zeros(length, dtype=bool)
    for name, values in columns.items():
        if name in _CHOICES:
            words = np.empty(length, dtype=object)
            words[:] = list(values)
            good = np.isin(np.asarray(values, dtype=str), _CHOICES[name]) if length else np.zeros(0, dtype=bool)
            cleaned[name] = words
        else:
            low, high, decimal = _NUMBERS[name]
            numbers, good = _numbers(values, low, high, decimal)
            cleaned[name] = numbers if decimal else numbers.astype("int64")
        odd |= ~good
    if odd.any():
        indexes = np.flatnonzero(odd).tolist()
        try:
            rows = prediction_rows_clean([{name: columns[name][index] for name in columns} for index in indexes])
        except PredictionRowsError as exc:
            raise PredictionRowsError(
                {indexes[position]: problems for position, problems in exc.row_errors.items()}
            ) from None
        for index, row in zip(indexes, rows):
            for name in columns:
                cleaned[name][index] = row[name]
    return cleaned
