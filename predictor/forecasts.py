"""Cash-flow forecasts for a group of patients: the expected total, its 50/80/90% ranges and a breakdown.

A cohort is a CSV file of patients (the batch files' columns and rules; nothing is stored), a list
of records cleaned by the API's schema, or a filter of stored predictions. Whatever its source, it
is reduced to sums per cell of (sex, smoker, region, obesity, age band, month): the patient count
and the sums of age, age², BMI and children (in PostgreSQL for stored predictions). Those sums are
all the forecasting model needs (``ml.forecast``): its estimate is linear in them, and each
patient's residual depends on smoker and obesity only. Stored predictions are re-priced by the
forecasting model from their inputs, so a cohort's figures do not depend on which version made each
stored prediction. Anonymised predictions (``predictor.retention``) are priced from their bands, which
keep every cell (sex, smoker, region, obesity, age band, month) and so every count; the cohort's
description says how many there are.

The forecasting model is the active version unless one is named; a version whose card has no
predictive distribution (trained before forecasts) is refused with a message naming one that has.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from django import forms as django_forms
from django.db.models import BigIntegerField, Case, Count, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Cast, TruncMonth

from . import selectors, services
from .csv_io import CsvTable, csv_rows_error
from .features import OBESITY_BMI
from .forms import MAX_NUMBER_LENGTH, PredictionForm
from .ml.artifacts import artifacts_folder, read_card
from .ml.forecast import RANGES, Lattice, NoDistribution, PredictiveDistribution, basis_sums, interval_group_of
from .models import ModelVersion, Prediction

DRAWS = 10_000
DEFAULT_SEED = 0
HISTOGRAM_BINS = 40
# Age bands of the breakdown: (label, first age, last age); the last is open-ended.
AGE_BANDS = (("18-29", 18, 29), ("30-39", 30, 39), ("40-49", 40, 49), ("50-64", 50, 64), ("65+", 65, None))
DIMENSIONS = ("region", "smoker", "sex", "age_band", "month")
DIMENSION_LABELS = {"region": "Region", "smoker": "Smoker", "sex": "Sex", "age_band": "Age band", "month": "Month"}
NOBODY = "No stored prediction matches this filter, so there is nothing to forecast"

Progress = Callable[[str, int, int], None]


class ForecastError(Exception):
    """A forecast that cannot be made as asked (a model without a distribution, no active model)."""


class ForecastNotFound(ForecastError):
    """What the forecast was asked about does not exist: a filter that selects nobody, an unknown model version."""


# ---------------------------------------------------------------------------
# The forecasting model


def _versions_with_distribution() -> list[str]:
    """Names of the committed model versions whose card has a predictive distribution."""
    names = []
    for card_path in sorted(artifacts_folder().glob("*.json")):
        try:
            card = read_card(card_path.with_suffix(".pkl"))
        except Exception:  # an unreadable card is simply not a candidate
            continue
        if card.get("distribution"):
            names.append(card.get("name", card_path.stem))
    return names


_distributions: dict[tuple[str, str], PredictiveDistribution] = {}


def forecast_model(*, name: str | None = None) -> tuple[ModelVersion, PredictiveDistribution]:
    """The version that forecasts (the active one unless named) and its predictive distribution; ForecastError if none."""
    if name:
        version = ModelVersion.objects.filter(name=name).first()
        if version is None:
            known = ", ".join(ModelVersion.objects.order_by("name").values_list("name", flat=True)) or "none"
            raise ForecastNotFound(f"There is no model version {name!r} (registered versions: {known}).")
    else:
        version = selectors.model_version_active()
        if version is None:
            raise ForecastError(
                "No model version is active. Activate one with `python manage.py activate_model NAME`."
            )
    key = (version.name, version.sha256)
    if key not in _distributions:
        try:
            _distributions[key] = PredictiveDistribution.from_card(version.card)
        except NoDistribution:
            candidates = [candidate for candidate in _versions_with_distribution() if candidate != version.name]
            hint = (
                f"Forecast with {' or '.join(candidates)}: activate it with `python manage.py activate_model "
                f"{candidates[0]}`, or name it as the forecasting model."
                if candidates
                else "Retrain with `python manage.py train_model` to get a version that has one."
            )
            raise ForecastError(
                f"Model version {version.name} has no predictive distribution (it was trained before forecasts), "
                f"so it cannot forecast a total. {hint}"
            ) from None
    return version, _distributions[key]


# ---------------------------------------------------------------------------
# Cohorts as sums per cell


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


# ---------------------------------------------------------------------------
# Rows of a file, cleaned as the batch files' rows are, quickly


_FIELDS = PredictionForm.base_fields
_CHOICES = {
    name: frozenset(str(value) for value, _ in field.choices if value != "")
    for name, field in _FIELDS.items()
    if isinstance(field, django_forms.ChoiceField)
}
_NUMBERS = {
    name: (field.min_value, field.max_value, isinstance(field, django_forms.FloatField))
    for name, field in _FIELDS.items()
    if not isinstance(field, django_forms.ChoiceField)
}


def _plain_number(text: str, decimal: bool) -> bool:
    """ASCII digits (with one decimal point for a float): text the form's field reads as the same number."""
    if not text or len(text) > MAX_NUMBER_LENGTH or not text.isascii():
        return False
    if decimal:
        whole, dot, fraction = text.partition(".")
        return whole.isdigit() and (not dot or fraction.isdigit())
    return text.isdigit()


def rows_clean_columns(columns: Mapping[str, Sequence[str]]) -> dict[str, list[Any]]:
    """Every row's six inputs (columns of stripped text) cleaned exactly as PredictionForm's fields clean them.

    Plain values (ASCII digits in range, a choice as written) are read here, quickly; any row with
    another value goes through ``services.prediction_rows_clean``, which reads what the form reads and
    raises PredictionRowsError with the form's messages, by row index.
    """
    length = len(next(iter(columns.values())))
    cleaned: dict[str, list[Any]] = {}
    odd: set[int] = set()
    for name, values in columns.items():
        out: list[Any] = [None] * length
        if name in _CHOICES:
            allowed = _CHOICES[name]
            for index, text in enumerate(values):
                if text in allowed:
                    out[index] = text
                else:
                    odd.add(index)
        else:
            low, high, decimal = _NUMBERS[name]
            parse = float if decimal else int
            for index, text in enumerate(values):
                if _plain_number(text, decimal):
                    number = parse(text)
                    if low <= number <= high:
                        out[index] = number
                        continue
                odd.add(index)
        cleaned[name] = out
    if odd:
        indexes = sorted(odd)
        try:
            rows = services.prediction_rows_clean([{name: columns[name][index] for name in columns} for index in indexes])
        except services.PredictionRowsError as exc:
            raise services.PredictionRowsError(
                {indexes[position]: problems for position, problems in exc.row_errors.items()}
            ) from None
        for index, row in zip(indexes, rows):
            for name in columns:
                cleaned[name][index] = row[name]
    return cleaned


def cells_from_table(table: CsvTable, *, card: Mapping[str, Any]) -> Cells:
    """A CSV file's cohort; BatchFileError with every bad row's line number and problems, as for batch files."""
    columns = {name: [row[index].strip() for row in table.rows] for name, index in table.column_index.items()}
    try:
        cleaned = rows_clean_columns(columns)
    except services.PredictionRowsError as exc:
        raise csv_rows_error(table, exc) from exc
    return cells_from_arrays(**cleaned, training_ranges=card.get("training_ranges", {}))


def cells_from_records(records: Sequence[Mapping[str, Any]], *, card: Mapping[str, Any]) -> Cells:
    """The cohort of records already cleaned by PredictionForm's fields (the API's schema cleans them)."""
    columns = {name: [record[name] for record in records] for name in _FIELDS}
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


# ---------------------------------------------------------------------------
# The forecast


@dataclass
class Forecast:
    """A cohort's forecast: the figures of the total and of each breakdown row, and the seeded draws of the total."""

    cohort: str
    model_version: str
    seed: int
    total: dict[str, Any]
    breakdown: list[dict[str, Any]]
    draws: np.ndarray = field(repr=False)

    @property
    def patients(self) -> int:
        return self.total["patients"]


def _cell_figures(distribution: PredictiveDistribution, cells: Cells, selected: np.ndarray) -> tuple[dict[str, Any], Lattice]:
    sums = np.zeros(len(distribution.coef))
    counts: dict[str, int] = defaultdict(int)
    for index in np.flatnonzero(selected):
        sex, smoker, region, obese, _, _ = cells.keys[index]
        sums += basis_sums(
            count=cells.count[index], sum_age=cells.sum_age[index], sum_age_squared=cells.sum_age_squared[index],
            sum_bmi=cells.sum_bmi[index], sum_children=cells.sum_children[index],
            sex=sex, smoker=smoker, region=region, obese=obese,
        )
        counts[interval_group_of(smoker, obese)] += int(cells.count[index])
    total = distribution.summary(sums, counts)
    figures = {
        "patients": total.patients, "point_sum": total.point_sum, "expected_total": total.expected_total,
        "median_total": total.median_total, "ranges": total.ranges, "naive_interval_sum": total.naive_interval_sum,
        "extrapolated": int(cells.extrapolated[selected].sum()),
    }
    return figures, total.distribution


def _dimension_value(key: tuple, dimension: str) -> str:
    sex, smoker, region, _, band, month = key
    return {"region": region, "smoker": smoker, "sex": sex, "age_band": AGE_BANDS[band][0], "month": month}[dimension]


def _value_order(dimension: str, values: Iterable[str]) -> list[str]:
    if dimension == "age_band":
        return [label for label, _, _ in AGE_BANDS if label in set(values)]
    return sorted(set(values))


def forecast_make(
    *, cells: Cells, version: ModelVersion, distribution: PredictiveDistribution, seed: int, cohort: str,
    progress: Progress | None = None,
) -> Forecast:
    """The forecast of a cohort's cells by a version's distribution; ``seed`` makes the draws of the chart."""
    if cells.patients == 0:
        raise ForecastError("The cohort has no patients, so there is nothing to forecast.")
    rows = []
    dimensions = [d for d in DIMENSIONS if d != "month" or any(key[5] for key in cells.keys)]
    steps = 1 + sum(len({_dimension_value(key, d) for key in cells.keys}) for d in dimensions)
    done = 0
    total, lattice = _cell_figures(distribution, cells, np.ones(len(cells.keys), dtype=bool))
    done += 1
    if progress:
        progress("forecasting", done, steps)
    for dimension in dimensions:
        values = [_dimension_value(key, dimension) for key in cells.keys]
        for value in _value_order(dimension, values):
            selected = np.array([v == value for v in values])
            figures, _ = _cell_figures(distribution, cells, selected)
            rows.append({"dimension": dimension, "value": value, **figures})
            done += 1
            if progress:
                progress("forecasting", done, steps)
    draws = lattice.sample(np.random.default_rng(seed), DRAWS)
    return Forecast(cohort=cohort, model_version=version.name, seed=seed, total=total, breakdown=rows, draws=draws)


def forecast_from_table(table: CsvTable, *, file_name: str, seed: int = DEFAULT_SEED, model: str | None = None,
                        progress: Progress | None = None) -> Forecast:
    """The forecast of a CSV file's patients (nothing is stored); BatchFileError for a bad file, ForecastError."""
    version, distribution = forecast_model(name=model)
    cells = cells_from_table(table, card=version.card)
    return forecast_make(cells=cells, version=version, distribution=distribution, seed=seed,
                         cohort=f"{len(table.rows):,} patients from {file_name}", progress=progress)


def forecast_from_records(records: Sequence[Mapping[str, Any]], *, seed: int = DEFAULT_SEED,
                          model: str | None = None) -> Forecast:
    """The forecast of records cleaned by PredictionForm's fields (nothing is stored)."""
    version, distribution = forecast_model(name=model)
    cells = cells_from_records(records, card=version.card)
    return forecast_make(cells=cells, version=version, distribution=distribution, seed=seed,
                         cohort=f"{len(records):,} patients sent")


def forecast_from_stored(filters: StoredFilter, *, seed: int = DEFAULT_SEED, model: str | None = None) -> Forecast:
    """The forecast of the stored predictions a filter selects, re-priced by the forecasting model."""
    version, distribution = forecast_model(name=model)
    cells = cells_from_stored(filters, card=version.card)
    if cells.patients == 0:
        raise ForecastNotFound(f"{NOBODY} ({filters.describe()}).")
    cohort = filters.describe()
    if cells.anonymised:
        # Counts stay exact (the bands keep every grouping); the dollars are priced from the bands.
        cohort += f" ({cells.anonymised:,} anonymised by retention: priced from their age, BMI and children bands)"
    return forecast_make(cells=cells, version=version, distribution=distribution, seed=seed, cohort=cohort)


# ---------------------------------------------------------------------------
# Presenting it: one dictionary for the command and the API, a CSV of the breakdown


def _dollars(value: float) -> float:
    return round(float(value), 2)


def _figures_out(figures: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "patients": figures["patients"],
        "point_sum": _dollars(figures["point_sum"]),
        "expected_total": _dollars(figures["expected_total"]),
        "median_total": _dollars(figures["median_total"]),
        "ranges": {level: [_dollars(low), _dollars(high)] for level, (low, high) in figures["ranges"].items()},
        "naive_interval_sum": [_dollars(value) for value in figures["naive_interval_sum"]],
        "extrapolated": figures["extrapolated"],
    }


def forecast_histogram(forecast: Forecast, bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
    """The seeded draws of the total as a histogram: ``bins`` equal bins from the smallest to the largest draw."""
    low, high = float(forecast.draws.min()), float(forecast.draws.max())
    if high <= low:
        high = low + 1.0
    counts, edges = np.histogram(forecast.draws, bins=bins, range=(low, high))
    return {"edges": [_dollars(edge) for edge in edges], "counts": [int(count) for count in counts]}


def forecast_as_dict(forecast: Forecast) -> dict[str, Any]:
    """The forecast as JSON: what ``manage.py forecast --json`` prints and ``POST /api/v1/forecasts`` answers."""
    draws = forecast.draws
    return {
        "cohort": forecast.cohort,
        "model_version": forecast.model_version,
        "seed": forecast.seed,
        **_figures_out(forecast.total),
        "breakdown": [
            {"dimension": row["dimension"], "value": row["value"], **_figures_out(row)} for row in forecast.breakdown
        ],
        "simulation": {
            "draws": int(len(draws)),
            "mean": _dollars(draws.mean()),
            "ranges": {
                level: [_dollars(value) for value in np.quantile(draws, pair, method="inverted_cdf")]
                for level, pair in RANGES.items()
            },
            "histogram": forecast_histogram(forecast),
        },
    }


BREAKDOWN_COLUMNS = (
    "dimension", "value", "patients", "expected_total", "median_total",
    *(f"range_{level}_{end}" for level in RANGES for end in ("low", "high")),
    "point_sum", "naive_interval_low", "naive_interval_high", "extrapolated",
)


def forecast_breakdown_rows(forecast: Forecast) -> list[dict[str, Any]]:
    """The total ("all") and every breakdown row, flat, as the CSV download has them."""
    rows = []
    for dimension, value, figures in [("all", "all", forecast.total)] + [
        (row["dimension"], row["value"], row) for row in forecast.breakdown
    ]:
        out = _figures_out(figures)
        flat = {"dimension": dimension, "value": value, "patients": out["patients"],
                "expected_total": out["expected_total"], "median_total": out["median_total"]}
        for level, (low, high) in out["ranges"].items():
            flat[f"range_{level}_low"], flat[f"range_{level}_high"] = low, high
        flat.update(point_sum=out["point_sum"], naive_interval_low=out["naive_interval_sum"][0],
                    naive_interval_high=out["naive_interval_sum"][1], extrapolated=out["extrapolated"])
        rows.append(flat)
    return rows


def forecast_breakdown_csv(forecast: Forecast) -> str:
    """The breakdown (with the total first) as CSV text."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=BREAKDOWN_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(forecast_breakdown_rows(forecast))
    return out.getvalue()



def forecast_text(forecast: Forecast) -> str:
    """The forecast as a few lines of text and a breakdown table, for the command line."""
    out = _figures_out(forecast.total)

    def money(value: float) -> str:
        return f"${value:,.0f}"

    lines = [
        f"Forecast of {forecast.cohort} by model {forecast.model_version} (seed {forecast.seed})",
        f"expected total    {money(out['expected_total'])}  (the served estimates sum to {money(out['point_sum'])})",
        f"median total      {money(out['median_total'])}",
        *(f"{level}% range         {money(low)} to {money(high)}" for level, (low, high) in out["ranges"].items()),
        f"naive sum of the patients' 90% intervals: {money(out['naive_interval_sum'][0])} to "
        f"{money(out['naive_interval_sum'][1])} (not a range for the total: it assumes every patient lands on a bound)",
    ]
    if out["extrapolated"]:
        lines.append(f"{out['extrapolated']:,} patients lie outside the model's training ranges: their estimates are extrapolations")
    lines += ["", f"{'breakdown':<22}{'patients':>10}{'expected total':>18}{'90% range':>34}{'outside':>9}"]
    for row in forecast.breakdown:
        figures = _figures_out(row)
        low, high = figures["ranges"]["90"]
        lines.append(
            f"{DIMENSION_LABELS[row['dimension']] + ' ' + row['value']:<22}{figures['patients']:>10,}"
            f"{money(figures['expected_total']):>18}{money(low) + ' to ' + money(high):>34}{figures['extrapolated']:>9,}"
        )
    return "\n".join(lines)
