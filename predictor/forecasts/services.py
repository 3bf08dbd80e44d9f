"""The forecast of a cohort: the forecasting model (the active version unless named) and its figures, by
the total and by each breakdown row, with the seeded draws of the chart."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import selectors
from ..csv_io import CsvTable
from ..ml.artifacts import artifacts_folder, read_card
from ..ml.forecast import Lattice, NoDistribution, PredictiveDistribution, basis_sums, interval_group_of
from ..models import ModelVersion
from .cohorts import AGE_BANDS, Cells, StoredFilter, cells_from_records, cells_from_stored, cells_from_table

DRAWS = 10_000
DEFAULT_SEED = 0
DIMENSIONS = ("region", "smoker", "sex", "age_band", "month")
NOBODY = "No stored prediction matches this filter, so there is nothing to forecast"

Progress = Callable[[str, int, int], None]


class ForecastError(Exception):
    """A forecast that cannot be made as asked (a model without a distribution, no active model)."""


class ForecastNotFound(ForecastError):
    """What the forecast was asked about does not exist: a filter that selects nobody, an unknown model version."""


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
