"""Reads: explaining a stored prediction, in one place with one set of labels, for the result page, the API,
the commands and the staff console: which inputs lie outside the training data, its interval group and how
well that group's interval held, what drives the estimate and what would change it. Computed on demand
from the stored inputs with the model version that made the estimate; nothing is stored."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy

from .features import FEATURES
from .ml.artifacts import LoadedModel, ModelArtifactError, get_model
from .ml.explain import NoBackgroundError, prediction_contributions
from .ml.interval import interval_group, interval_group_label
from .ml.predict import extrapolated_features, predict_charges_with_interval
from .models import Prediction

logger = logging.getLogger(__name__)


# ---------------------------------------------------------------------------
# Explaining a stored prediction: one place, one set of labels, for the result page, the API,
# the commands and the staff console.

# How the numeric inputs read in sentences ("Age 70: the model saw 18 to 64").
INPUT_LABELS = {"age": gettext_lazy("Age"), "bmi": gettext_lazy("BMI"), "children": gettext_lazy("Children covered")}


@dataclass(frozen=True)
class ExtrapolatedInput:
    """An input outside the range the model was trained on, and that range."""

    name: str
    label: str
    value: float
    low: str
    high: str


@dataclass(frozen=True)
class IntervalGroup:
    """A prediction's interval group and how often the model's interval held on the holdout for it."""

    name: str
    label: str
    coverage: float | None
    overall: float | None
    rows: int | None
    # From repeated 70/30 splits when the card has them (``interval_calibration``): the group's
    # single-patient coverage, its number of patients and of repetitions; else None.
    calibrated_coverage: float | None = None
    calibrated_patients: int | None = None
    calibrated_repetitions: int | None = None


@dataclass(frozen=True)
class PredictionExplanation:
    extrapolated: list[ExtrapolatedInput]
    interval_group: IntervalGroup | None

    @property
    def extrapolated_names(self) -> list[str]:
        return [item.name for item in self.extrapolated]


def prediction_extrapolated(prediction: Prediction) -> list[str]:
    """The names of a stored prediction's inputs outside the range its model was trained on (what the API answers)."""
    return extrapolated_features({name: getattr(prediction, name) for name in INPUT_LABELS}, prediction.model_version.card)


def prediction_explain(prediction: Prediction) -> PredictionExplanation:
    """What a reader of a stored prediction should know: extrapolated inputs, and its interval group's record."""
    card = prediction.model_version.card
    ranges = card.get("training_ranges", {})
    inputs = {name: getattr(prediction, name) for name in INPUT_LABELS}
    extrapolated = [
        ExtrapolatedInput(
            name=name,
            label=str(INPUT_LABELS[name]),
            value=inputs[name],
            low=f"{ranges[name][0]:g}",
            high=f"{ranges[name][1]:g}",
        )
        for name in extrapolated_features(inputs, card)
    ]
    group = None
    if prediction.predicted_charges_low is not None and "interval" in card:
        holdout = card.get("holdout", {})
        name = interval_group({"smoker": prediction.smoker, "bmi": prediction.bmi})
        group = IntervalGroup(
            name=name,
            label=interval_group_label(name),
            coverage=holdout.get("coverage_by_group", {}).get(name),
            overall=holdout.get("interval_coverage"),
            rows=holdout.get("rows"),
            **_interval_calibration(card, name),
        )
    return PredictionExplanation(extrapolated=extrapolated, interval_group=group)


def _number(mapping: Any, *keys: str) -> float | None:
    for key in keys:
        value = mapping.get(key) if isinstance(mapping, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
    return None


def _interval_calibration(card: dict[str, Any], group: str) -> dict[str, Any]:
    """A group's coverage over repeated splits from the card's ``interval_calibration``, read defensively.

    Its exact shape is the forecast work's to fix: a group's figures may sit under "groups" or at
    the top, with the coverage, patients and repetitions under any of a few names. Nothing usable
    (a figure missing, or a coverage outside 0-1) gives nothing, and the page keeps the holdout's.
    """
    calibration = card.get("interval_calibration")
    if not isinstance(calibration, dict):
        return {}
    groups = calibration.get("groups", calibration)
    figures = groups.get(group) if isinstance(groups, dict) else None
    coverage = _number(figures, "coverage", "single_patient_coverage", "mean_coverage")
    patients = _number(figures, "patients", "n", "rows")
    repetitions = _number(figures, "repetitions", "splits") or _number(calibration, "repetitions", "splits")
    if coverage is None or not 0 <= coverage <= 1 or not patients or not repetitions:
        return {}
    return {
        "calibrated_coverage": float(coverage),
        "calibrated_patients": int(patients),
        "calibrated_repetitions": int(repetitions),
    }


# ---------------------------------------------------------------------------
# What drives a stored estimate, and what would change it: computed on demand from the stored
# inputs with the model version that made the estimate; nothing is stored.


@dataclass(frozen=True)
class Contribution:
    """One input's share of an estimate, in dollars against a typical patient (its Shapley value)."""

    name: str
    dollars: float


@dataclass(frozen=True)
class EstimateDrivers:
    """An estimate as a base value (the mean estimate of the card's background patients) plus its inputs' shares."""

    base_value: float
    contributions: list[Contribution]  # largest effect first

    @property
    def largest(self) -> float:
        """The largest contribution's size, the scale of the chart."""
        return max((abs(item.dollars) for item in self.contributions), default=0.0)

    def as_dict(self) -> dict[str, float]:
        return {item.name: round(item.dollars, 2) for item in self.contributions}


@dataclass(frozen=True)
class WhatIf:
    """The estimate for the same person with some inputs changed, and how far it moves."""

    name: str
    changes: dict[str, Any]
    charges: float
    low: float | None
    high: float | None
    difference: float


def _prediction_inputs(prediction: Prediction) -> dict[str, Any]:
    return {name: getattr(prediction, name) for name in FEATURES}


def _prediction_model(prediction: Prediction) -> LoadedModel | None:
    """The verified model that made a stored prediction, or None when its artifact is not here any more."""
    try:
        return get_model(prediction.model_version.name)
    except ModelArtifactError:
        logger.warning("No artifact for model version %s: its estimates are not explained", prediction.model_version.name)
        return None


def prediction_drivers(prediction: Prediction) -> EstimateDrivers | None:
    """What drives a stored estimate: each input's contribution in dollars; None when its model cannot explain
    or the row's inputs were anonymised (its bands would explain another person's estimate)."""
    if prediction.anonymised_at is not None:
        return None
    model = _prediction_model(prediction)
    if model is None:
        return None
    try:
        result = prediction_contributions(_prediction_inputs(prediction), model)
    except NoBackgroundError:
        return None
    ordered = sorted(result.contributions.items(), key=lambda item: -abs(item[1]))
    return EstimateDrivers(
        base_value=result.base_value, contributions=[Contribution(name=name, dollars=value) for name, value in ordered]
    )


# The changes a person can act on, tried when they apply: not smoking, a BMI of 25, and both.
HEALTHY_BMI = 25.0


def prediction_what_ifs(prediction: Prediction) -> list[WhatIf]:
    """The same person's estimate if they did not smoke, had a BMI of 25, or both (when those differ from theirs);
    none for an anonymised row (priced from its bands they would not be differences from its estimate)."""
    if prediction.anonymised_at is not None:
        return []
    model = _prediction_model(prediction)
    if model is None:
        return []
    inputs = _prediction_inputs(prediction)
    options: list[tuple[str, dict[str, Any]]] = []
    if inputs["smoker"] == Prediction.Smoker.YES:
        options.append(("not_smoking", {"smoker": Prediction.Smoker.NO.value}))
    if inputs["bmi"] > HEALTHY_BMI:
        options.append(("bmi_25", {"bmi": HEALTHY_BMI}))
    if len(options) == 2:
        options.append(("both", {**options[0][1], **options[1][1]}))
    current = float(prediction.predicted_charges)
    what_ifs = []
    for name, changes in options:
        [(charges, low, high)] = predict_charges_with_interval([{**inputs, **changes}], model)
        what_ifs.append(
            WhatIf(name=name, changes=changes, charges=charges, low=low, high=high, difference=charges - current)
        )
    return what_ifs
