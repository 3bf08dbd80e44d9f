"""Cohorts as sums per cell: the patients of a file, of records or of a filter of stored predictions,
reduced to each cell's count and sums of age, age², BMI and children (all the forecasting model needs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import BigIntegerField, Case, Count, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Cast, TruncMonth

from ..batches.files import table_columns_clean
from ..csv_io import CsvTable
from ..features import AGE_BANDS, OBESITY_BMI
from ..forms import PredictionForm
from ..models import Prediction



@dataclass
class Cells:
    """A cohort as sums per cell: each cell's key (sex, smoker, region, obese, age band index, month or None)
    and, in the same order, arrays of its count and sums of age, age², BMI and children, and how many of its
    patients lie outside the model's training ranges."""

    keys: list[tuple[str, str, str, bool, int, str | None]] = field(default_factory=list)
    count: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sum_age: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sum_age_squared: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sum_bmi: np.ndarray = field(default_factory=lambda: np.zeros(0))
    sum_children: np.ndarray = field(default_factory=lambda: np.zeros(0))
    extrapolated: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # Stored predictions only: how many were anonymised by retention, so are priced from their bands.
    anonymised: int = 0

    @property
    def patients(self) -> int:
        return int(self.count.sum())


def _age_band_index(age: np.ndarray) -> np.ndarray:
    edges = np.array([first for _, first, _ in AGE_BANDS[1:]])
    return np.searchsorted(edges, age, side="right")


_SEXES = tuple(Prediction.Sex.values)
_SMOKERS = tuple(Prediction.Smoker.values)
_REGIONS = tuple(Prediction.Region.values)


def _codes(values, choices: tuple[str, ...]) -> np.ndarray:
    values = np.asarray(values)
    codes = np.full(len(values), -1, dtype=np.int64)
    for index, choice in enumerate(choices):
        codes[values == choice] = index
    if (codes < 0).any():
        raise ValueError(f"a value outside {choices}")
    return codes


def cells_from_arrays(*, age, sex, bmi, children, smoker, region, training_ranges: Mapping[str, Sequence[float]]) -> Cells:
    """A cohort's cells from arrays of cleaned inputs (choices as the form's words)."""
    age = np.asarray(age, dtype="float64")
    bmi = np.asarray(bmi, dtype="float64")
    children = np.asarray(children, dtype="float64")
    codes = {"sex": _codes(sex, _SEXES), "smoker": _codes(smoker, _SMOKERS), "region": _codes(region, _REGIONS)}
    obese = (bmi > OBESITY_BMI).astype(np.int64)
    band = _age_band_index(age)
    code = (((codes["sex"] * len(_SMOKERS) + codes["smoker"]) * len(_REGIONS) + codes["region"]) * 2 + obese) * len(AGE_BANDS) + band
    outside = np.zeros(len(age), dtype=bool)
    for name, values in (("age", age), ("bmi", bmi), ("children", children)):
        if name in training_ranges:
            low, high = training_ranges[name]
            outside |= (values < low) | (values > high)
    unique, index = np.unique(code, return_inverse=True)

    def total(values) -> np.ndarray:
        return np.bincount(index, weights=values, minlength=len(unique))

    keys = []
    for value in unique.tolist():
        value, band_index = divmod(value, len(AGE_BANDS))
        value, is_obese = divmod(value, 2)
        value, region_index = divmod(value, len(_REGIONS))
        sex_index, smoker_index = divmod(value, len(_SMOKERS))
        keys.append((_SEXES[sex_index], _SMOKERS[smoker_index], _REGIONS[region_index], bool(is_obese), band_index, None))
    return Cells(
        keys=keys,
        count=total(np.ones(len(age))),
        sum_age=total(age),
        sum_age_squared=total(age * age),
        sum_bmi=total(bmi),
        sum_children=total(children),
        extrapolated=total(outside.astype("float64")),
    )


def cells_from_table(table: CsvTable, *, card: Mapping[str, Any]) -> Cells:
    """A CSV file's cohort; CsvFileError with every bad row's line number and problems, as for batch files."""
    return cells_from_arrays(**table_columns_clean(table), training_ranges=card.get("training_ranges", {}))


def cells_from_records(records: Sequence[Mapping[str, Any]], *, card: Mapping[str, Any]) -> Cells:
    """The cohort of records already cleaned by PredictionForm's fields (the API's schema cleans them)."""
    columns = {name: [record[name] for record in records] for name in PredictionForm.base_fields}
    return cells_from_arrays(**columns, training_ranges=card.get("training_ranges", {}))


# ---------------------------------------------------------------------------
# Stored predictions, summed in PostgreSQL

@dataclass(frozen=True)
class StoredFilter:
    """Which stored predictions form the cohort: made at or after ``since`` and before ``until``, and the rest equal."""

    since: datetime | None = None
    until: datetime | None = None
    region: str | None = None
    smoker: str | None = None
    source: str | None = None
    batch: int | None = None
    model_version: str | None = None

    def describe(self) -> str:
        parts = []
        if self.since:
            parts.append(f"made from {self.since:%Y-%m-%d %H:%M} UTC")
        if self.until:
            parts.append(f"before {self.until:%Y-%m-%d %H:%M} UTC")
        for name in ("region", "smoker", "source", "batch", "model_version"):
            value = getattr(self, name)
            if value not in (None, ""):
                parts.append(f"{name.replace('_', ' ')} {value}")
        return "stored predictions" + (" " + ", ".join(parts) if parts else " (all)")


def stored_predictions(filters: StoredFilter):
    """The stored predictions a filter selects (unordered: they are summed)."""
    predictions = Prediction.objects.order_by()
    if filters.since is not None:
        predictions = predictions.filter(created_at__gte=filters.since)
    if filters.until is not None:
        predictions = predictions.filter(created_at__lt=filters.until)
    for name in ("region", "smoker", "source"):
        if getattr(filters, name):
            predictions = predictions.filter(**{name: getattr(filters, name)})
    if filters.batch is not None:
        predictions = predictions.filter(batch_id=filters.batch)
    if filters.model_version:
        predictions = predictions.filter(model_version__name=filters.model_version)
    return predictions


def cells_from_stored(filters: StoredFilter, *, card: Mapping[str, Any]) -> Cells:
    """The cohort a filter of stored predictions selects, summed by PostgreSQL in one grouped query."""
    ranges = card.get("training_ranges", {})
    outside = Q()
    for name in ("age", "bmi", "children"):
        if name in ranges:
            outside |= Q(**{f"{name}__lt": ranges[name][0]}) | Q(**{f"{name}__gt": ranges[name][1]})
    band = Case(
        *(When(age__lte=last, then=Value(index)) for index, (_, _, last) in enumerate(AGE_BANDS) if last is not None),
        default=Value(len(AGE_BANDS) - 1),
        output_field=IntegerField(),
    )
    age = Cast("age", BigIntegerField())
    rows = (
        stored_predictions(filters)
        .annotate(
            obese=Case(When(bmi__gt=OBESITY_BMI, then=Value(1)), default=Value(0), output_field=IntegerField()),
            age_band=band,
            month=TruncMonth("created_at"),
        )
        .values("sex", "smoker", "region", "obese", "age_band", "month")
        .annotate(
            count=Count("id"),
            sum_age=Sum(age),
            sum_age_squared=Sum(age * age),
            sum_bmi=Sum("bmi"),
            sum_children=Sum(Cast("children", BigIntegerField())),
            extrapolated=Sum(Case(When(outside, then=Value(1)), default=Value(0), output_field=IntegerField()))
            if outside
            else Value(0),
            anonymised=Count("id", filter=Q(anonymised_at__isnull=False)),
        )
        .order_by()
    )
    cells = Cells()
    records = list(rows)
    cells.keys = [
        (row["sex"], row["smoker"], row["region"], bool(row["obese"]), row["age_band"], f"{row['month']:%Y-%m}")
        for row in records
    ]
    for name in ("count", "sum_age", "sum_age_squared", "sum_bmi", "sum_children", "extrapolated"):
        setattr(cells, name, np.array([float(row[name]) for row in records], dtype="float64"))
    cells.anonymised = sum(int(row["anonymised"]) for row in records)
    return cells
