"""Reads: how views, the API, the admin and commands look up and explain stored predictions and model versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core import signing
from django.db.models import QuerySet

from .ml.interval import interval_group, interval_group_label
from .ml.predict import extrapolated_features
from .models import ModelVersion, Prediction

# A result page link is a signed prediction id, so that nobody can read another
# patient's result by counting ids, and it expires.
RESULT_SALT = "predictor.result"
RESULT_MAX_AGE_SECONDS = 60 * 60


def prediction_result_token(prediction: Prediction) -> str:
    """The opaque token of a prediction's result page."""
    return signing.dumps(prediction.pk, salt=RESULT_SALT)


def prediction_get_by_result_token(token: str) -> Prediction | None:
    """The prediction a result token names, or None when it is forged, expired or gone."""
    try:
        prediction_id = signing.loads(token, salt=RESULT_SALT, max_age=RESULT_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return prediction_get(prediction_id=prediction_id)


def prediction_list() -> QuerySet[Prediction]:
    """All predictions, newest first, with the model version joined (no per-row queries)."""
    return Prediction.objects.select_related("model_version").order_by("-created_at", "-id")


def model_version_active() -> ModelVersion | None:
    """The model version currently marked active, if any."""
    return ModelVersion.objects.filter(active=True).first()


def prediction_history(*, since: datetime | None = None, until: datetime | None = None) -> QuerySet[Prediction]:
    """Predictions made at or after ``since`` and before ``until``, newest first, for the history API."""
    predictions = prediction_list()
    if since is not None:
        predictions = predictions.filter(created_at__gte=since)
    if until is not None:
        predictions = predictions.filter(created_at__lt=until)
    return predictions


def prediction_get(*, prediction_id: int) -> Prediction | None:
    """One prediction with its model version, or None."""
    return prediction_list().filter(pk=prediction_id).first()


# ---------------------------------------------------------------------------
# Explaining a stored prediction: one place, one set of labels, for the result page, the API,
# the commands and the staff console.

# How the numeric inputs read in sentences ("Age 70: the model saw 18 to 64").
INPUT_LABELS = {"age": "Age", "bmi": "BMI", "children": "Children covered"}


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
    """A prediction's interval group and how often the model's interval held for it where no fitting looked.

    Averaged over ``repetitions`` random 70/30 splits (``rows`` patients held out each time) when the
    card has them; otherwise (``repetitions`` None) on the card's one holdout of ``rows`` patients.
    """

    name: str
    label: str
    coverage: float | None
    overall: float | None
    rows: int | None
    repetitions: int | None = None


@dataclass(frozen=True)
class PredictionExplanation:
    extrapolated: list[ExtrapolatedInput]
    interval_group: IntervalGroup | None

    @property
    def extrapolated_names(self) -> list[str]:
        return [item.name for item in self.extrapolated]


def prediction_explain(prediction: Prediction) -> PredictionExplanation:
    """What a reader of a stored prediction should know: extrapolated inputs, and its interval group's record."""
    card = prediction.model_version.card
    ranges = card.get("training_ranges", {})
    inputs = {name: getattr(prediction, name) for name in INPUT_LABELS}
    extrapolated = [
        ExtrapolatedInput(
            name=name,
            label=INPUT_LABELS[name],
            value=inputs[name],
            low=f"{ranges[name][0]:g}",
            high=f"{ranges[name][1]:g}",
        )
        for name in extrapolated_features(inputs, card)
    ]
    group = None
    if prediction.predicted_charges_low is not None and "interval" in card:
        name = interval_group({"smoker": prediction.smoker, "bmi": prediction.bmi})
        repeated = card.get("interval_calibration")
        if repeated:
            group = IntervalGroup(
                name=name,
                label=interval_group_label(name),
                coverage=repeated["groups"].get(name, {}).get("coverage"),
                overall=repeated["overall"]["coverage"],
                rows=repeated["test_rows"],
                repetitions=repeated["repetitions"],
            )
        else:
            holdout = card.get("holdout", {})
            group = IntervalGroup(
                name=name,
                label=interval_group_label(name),
                coverage=holdout.get("coverage_by_group", {}).get(name),
                overall=holdout.get("interval_coverage"),
                rows=holdout.get("rows"),
            )
    return PredictionExplanation(extrapolated=extrapolated, interval_group=group)


def model_version_interval_groups(version: ModelVersion) -> list[dict[str, Any]]:
    """A model version's interval groups for the staff report: label, signed offsets, training rows, holdout
    coverage, and the coverage averaged over repeated splits (None for a card without them)."""
    card = version.card
    coverage = card.get("holdout", {}).get("coverage_by_group", {})
    repeated = card.get("interval_calibration", {}).get("groups", {})
    return [
        {
            "name": name,
            "label": interval_group_label(name),
            "low": _signed_dollars(offsets["low"]),
            "high": _signed_dollars(offsets["high"]),
            "n": offsets.get("n"),
            "coverage": coverage.get(name),
            "repeated": repeated.get(name),
        }
        for name, offsets in card.get("interval", {}).get("groups", {}).items()
    ]


def model_version_cohort_calibration(version: ModelVersion) -> list[dict[str, Any]]:
    """A model version's forecast calibration for the staff report, one row per cohort size (empty without it)."""
    calibration = version.card.get("cohort_calibration", {})
    rows = []
    for size, figures in sorted(calibration.items(), key=lambda item: int(item[0])):
        rows.append({
            "patients": int(size),
            "repetitions": figures["repetitions"],
            "cohorts_per_repetition": figures.get("cohorts_per_repetition"),
            "coverage_90": _percent(figures["coverage_90"]),
            "coverage_90_ci95": " to ".join(_percent(value) for value in figures.get("coverage_90_ci95", [])),
            "coverage_90_range": " to ".join(_percent(value) for value in figures.get("coverage_90_range", [])),
            "coverage_80": _percent(figures.get("coverage_80")),
            "coverage_50": _percent(figures["coverage_50"]),
            "mean_total_error": f"{figures['mean_total_error']:+.1%}",
            "mean_actual_total": figures.get("mean_actual_total"),
            "mean_width_90": figures.get("mean_width_90"),
            "mean_naive_interval_width": figures.get("mean_naive_interval_width"),
            "naive_interval_coverage": _percent(figures.get("naive_interval_coverage")),
        })
    return rows


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value:.1%}"


def _signed_dollars(value: float) -> str:
    return f"{'-' if value < 0 else '+'}${abs(value):,.0f}"
