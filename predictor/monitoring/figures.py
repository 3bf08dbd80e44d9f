"""What a monitoring report holds: its dataclasses and their JSON, as ``monitor_report --json`` prints it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ..ml import drift, stats
from ..models import Prediction

SOURCE_LABELS = dict(Prediction.Source.choices)


@dataclass(frozen=True)
class Holdout:
    """A model card's figures on its held-out rows, with the bias and Wilson intervals worked from its holdout points."""

    version: str
    rows: int | None
    r2: float | None
    mae: float | None
    rmse: float | None
    coverage: float | None
    accuracy: stats.Accuracy | None


@dataclass(frozen=True)
class Slice:
    """One row of the report: a set of predictions with actual charges and how the model fared on it."""

    kind: str  # overall, month, group, region or version
    key: str
    label: str
    accuracy: stats.Accuracy
    alerts: list[str] = field(default_factory=list)
    holdout: Holdout | None = None
    in_sample: int | None = None  # version slices: actuals of patients in the version's training data

    @property
    def alert_kinds(self) -> list[str]:
        """"coverage", "bias" or both."""
        return [alert.split(":", 1)[0] for alert in self.alerts]


@dataclass(frozen=True)
class Drift:
    """The window's inputs against a model card's training data."""

    reference: str | None  # the model version whose card holds the reference
    missing: str | None  # why there is no drift analysis, when there is none
    n: int
    inputs: list[drift.InputDrift]
    out_of_range: dict[str, float]  # share of the window outside the training range, per numeric input and "any"
    # Of the n, predictions anonymised by retention: left out of age, BMI and children (bands, not values).
    anonymised: int = 0

    @property
    def flags(self) -> list[str]:
        return [
            f"drift: {item.name}: PSI {item.psi:.3f} over {item.n:,} predictions, beyond the {item.threshold:.3f} "
            f"that 99% of training resamples of that size stay under, and at least {drift.PSI_WATCH}"
            for item in self.inputs
            if item.flagged
        ]


@dataclass(frozen=True)
class InSample:
    """Actual charges of patients that a model version was trained on (its errors on them are in-sample)."""

    count: int
    of: int
    versions: list[str]


@dataclass(frozen=True)
class MonitoringReport:
    since: date | None
    until: date | None
    model: str | None  # the chosen version's name, or None for all
    predictions: int  # every prediction in the window
    overall: Slice | None
    by_month: list[Slice]
    by_group: list[Slice]
    by_region: list[Slice]
    by_version: list[Slice]
    holdout: Holdout | None  # the chosen (or active) version's card
    in_sample: InSample | None
    drift: Drift
    volume: list[tuple[date, str, int]]
    points: list[tuple[float, float, float | None, float | None]]  # (predicted, actual, low, high), latest first

    @property
    def alerts(self) -> list[str]:
        return [alert for part in self.slices for alert in part.alerts]

    @property
    def slices(self) -> list[Slice]:
        return [*([self.overall] if self.overall else []), *self.by_month, *self.by_group, *self.by_region, *self.by_version]

    @property
    def flags(self) -> list[str]:
        return self.drift.flags

    @property
    def raised(self) -> bool:
        """Whether anything is raised: an alert or a drift flag (``monitor_report`` exits 1)."""
        return bool(self.alerts or self.flags)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data; the top level holds the overall figures."""
        overall = _slice_json(self.overall) if self.overall else _slice_json(None)
        return {
            "period": {"since": _iso(self.since), "until": _iso(self.until)},
            "model": self.model,
            "predictions": self.predictions,
            **{key: value for key, value in overall.items() if key not in {"key", "label", "alerts"}},
            "alerts": self.alerts,
            "drift": {
                item.name: {
                    "psi": round(item.psi, 6),
                    "threshold": round(item.threshold, 6),
                    "status": item.status,
                    "band": item.band,
                    "n": item.n,
                    "bins": [
                        {"bin": label, "training": round(expected, 6), "window": round(share, 6)}
                        for label, expected, share in item.bins
                    ],
                }
                for item in self.drift.inputs
            },
            "drift_reference": self.drift.reference,
            "drift_missing": self.drift.missing,
            "drift_flags": self.flags,
            "drift_anonymised": self.drift.anonymised,
            "out_of_range": {name: round(share, 6) for name, share in self.drift.out_of_range.items()},
            "holdout": _holdout_json(self.holdout),
            "in_sample": (
                {"count": self.in_sample.count, "of": self.in_sample.of, "versions": self.in_sample.versions}
                if self.in_sample
                else None
            ),
            "by_month": [_slice_json(part) for part in self.by_month],
            "by_group": [_slice_json(part) for part in self.by_group],
            "by_region": [_slice_json(part) for part in self.by_region],
            "by_version": [
                {**_slice_json(part), "holdout": _holdout_json(part.holdout), "in_sample": part.in_sample}
                for part in self.by_version
            ],
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _accuracy_json(accuracy: stats.Accuracy | None) -> dict[str, Any]:
    if accuracy is None:
        return {"count": 0, "mae": None, "rmse": None, "r2": None, "bias": None, "coverage": None}
    coverage = accuracy.coverage
    return {
        "count": accuracy.n,
        "mae": round(accuracy.mae, 2),
        "rmse": round(accuracy.rmse, 2),
        "r2": _round(accuracy.r2, 4),
        "bias": {
            "mean": round(accuracy.bias.value, 2),
            "low": _round(accuracy.bias.low, 2),
            "high": _round(accuracy.bias.high, 2),
        },
        "coverage": (
            {"rate": round(coverage.value, 4), "low": round(coverage.low, 4), "high": round(coverage.high, 4), "n": accuracy.interval_n}
            if coverage
            else None
        ),
        "mean_actual": round(accuracy.mean_actual, 2),
    }


def _slice_json(part: Slice | None) -> dict[str, Any]:
    if part is None:
        return _accuracy_json(None)
    return {"key": part.key, "label": part.label, **_accuracy_json(part.accuracy), "alerts": part.alerts}


def _holdout_json(holdout: Holdout | None) -> dict[str, Any] | None:
    if holdout is None:
        return None
    figures = _accuracy_json(holdout.accuracy) if holdout.accuracy else {}
    return {
        "version": holdout.version,
        "rows": holdout.rows,
        "r2": holdout.r2,
        "mae": holdout.mae,
        "rmse": holdout.rmse,
        "coverage": holdout.coverage,
        "bias": figures.get("bias"),
        "coverage_interval": figures.get("coverage"),
    }
