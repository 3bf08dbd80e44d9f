"""What the model cards say about themselves, for the staff report and monitoring: the holdout figures,
the drift reference, the interval groups and the cohort calibration of a version's forecasts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..ml import stats
from ..ml.artifacts import ModelArtifactError, artifact_path_for, read_card
from ..ml.interval import interval_group_label
from ..models import ModelVersion
from .figures import Holdout


def model_version_holdout(version: ModelVersion) -> Holdout:
    """A version's holdout figures from its card, with the bias and coverage intervals worked from the card's points."""
    card = version.card or {}
    holdout = card.get("holdout") or (version.metrics or {}).get("holdout", {})
    plot = card.get("holdout_plot") or {}
    accuracy = None
    if plot.get("actual"):
        accuracy = stats.accuracy_from_rows(plot["actual"], plot["predicted"], plot.get("low"), plot.get("high"))
    return Holdout(
        version=version.name,
        rows=holdout.get("rows"),
        r2=holdout.get("r2"),
        mae=holdout.get("mae"),
        rmse=holdout.get("rmse"),
        coverage=holdout.get("interval_coverage"),
        accuracy=accuracy,
    )


def drift_reference_for(version: ModelVersion) -> tuple[dict[str, Any] | None, str | None]:
    """A version's drift reference and, without one, why.

    The ModelVersion row keeps the card as it was registered; a reference added to the card
    file later (``manage.py add_drift_reference``, same artifact hash) is read from the file.
    """
    reference = (version.card or {}).get("drift_reference")
    if reference:
        return reference, None
    path = artifact_path_for(version.name)
    card: dict[str, Any] = {}
    if Path(path).is_file():
        try:
            card = read_card(path)
        except ModelArtifactError:
            card = {}
    if card.get("artifact_sha256") == version.sha256 and card.get("drift_reference"):
        return card["drift_reference"], None
    return None, (
        f"The model card of {version.name} holds no drift reference (the training data's bins), so input drift "
        "cannot be measured for it. Add one with `manage.py add_drift_reference "
        f"{version.name} --data TRAINING.csv`, or retrain: train_model writes it into every new card."
    )


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
