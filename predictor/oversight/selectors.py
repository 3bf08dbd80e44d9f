"""Reads of human oversight: a prediction's overrides and reviewed charge, the record of pauses, and the
overrides' figures for monitoring (apart from the model's own accuracy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery

from ..ml import stats
from ..models import ChargeOverride, ModelVersion, ServingChange
from ..monitoring import queries as monitoring_queries


def charge_overrides_of(*, prediction_id: int) -> QuerySet[ChargeOverride]:
    """A prediction's overrides, newest first (the first is its reviewed charge in force)."""
    return ChargeOverride.objects.filter(prediction_id=prediction_id).order_by("-id")


def charge_override_latest(*, prediction_id: int) -> ChargeOverride | None:
    """The override in force on a prediction (its latest), or None when its estimate stands."""
    return charge_overrides_of(prediction_id=prediction_id).first()


def reviewed_charges_latest(field: str = "reviewed_charges") -> Subquery:
    """For ``annotate``: a field of each prediction's latest override (its reviewed charge by default), or NULL."""
    latest = ChargeOverride.objects.filter(prediction_id=OuterRef("pk")).order_by("-id")
    return Subquery(latest.values(field)[:1])


def serving_changes() -> QuerySet[ServingChange]:
    """Every pause and resume, newest first."""
    return ServingChange.objects.order_by("-id")


@dataclass(frozen=True)
class OverrideFigures:
    """The overrides of the predictions made in a monitoring window, apart from the model's own accuracy.

    ``predictions`` in the window, ``overridden`` of them with a reviewed charge (``overrides``
    rows in all); ``change``, the mean of reviewed − estimate with its 95% interval; and on the
    overridden predictions with actual charges, the accuracy of the model's ``estimate`` and of the
    ``reviewed`` charge (None without such rows).
    """

    predictions: int
    overridden: int
    overrides: int
    change: stats.Estimate | None
    estimate: stats.Accuracy | None
    reviewed: stats.Accuracy | None

    def as_json(self) -> dict[str, Any]:
        """The figures as ``monitor_report --json`` prints them under ``overrides``."""

        def accuracy(figures: stats.Accuracy | None) -> dict[str, Any] | None:
            if figures is None:
                return None
            return {"count": figures.n, "mae": round(figures.mae, 2), "rmse": round(figures.rmse, 2),
                    "bias": round(figures.bias.value, 2), "mean_actual": round(figures.mean_actual, 2)}

        change = None if self.change is None else {
            "mean": round(self.change.value, 2),
            "low": None if self.change.low is None else round(self.change.low, 2),
            "high": None if self.change.high is None else round(self.change.high, 2),
        }
        return {
            "predictions": self.predictions, "overridden": self.overridden, "overrides": self.overrides,
            "reviewed_minus_estimate": change,
            "with_actual_charges": {"estimate": accuracy(self.estimate), "reviewed": accuracy(self.reviewed)},
        }


_SUMMARY = """
WITH window_rows AS (
    SELECT id, predicted_charges, predicted_charges_low, predicted_charges_high, actual_charges
    FROM predictor_prediction WHERE {where}
), latest AS (
    SELECT DISTINCT ON (o.prediction_id) o.prediction_id, o.reviewed_charges
    FROM predictor_charge_override o JOIN window_rows w ON w.id = o.prediction_id
    ORDER BY o.prediction_id, o.id DESC
)
SELECT
    (SELECT count(*) FROM window_rows),
    (SELECT count(*) FROM predictor_charge_override o JOIN window_rows w ON w.id = o.prediction_id),
    count(*), sum(l.reviewed_charges - w.predicted_charges), sum((l.reviewed_charges - w.predicted_charges) ^ 2),
    count(w.actual_charges), sum(w.actual_charges), sum(w.actual_charges ^ 2),
    sum(w.actual_charges - w.predicted_charges), sum(abs(w.actual_charges - w.predicted_charges)),
    sum((w.actual_charges - w.predicted_charges) ^ 2),
    count(w.actual_charges) FILTER (WHERE w.predicted_charges_low IS NOT NULL),
    count(*) FILTER (WHERE w.actual_charges BETWEEN w.predicted_charges_low AND w.predicted_charges_high),
    sum(w.actual_charges - l.reviewed_charges), sum(abs(w.actual_charges - l.reviewed_charges)),
    sum((w.actual_charges - l.reviewed_charges) ^ 2)
FROM latest l JOIN window_rows w ON w.id = l.prediction_id
"""


def override_figures(*, since: date | None, until: date | None, model_version: ModelVersion | None) -> OverrideFigures | None:
    """The overrides of the predictions made from ``since`` to ``until`` (the monitoring window); None off PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    where, params = monitoring_queries.window(since, until, model_version)
    with connection.cursor() as cursor:
        cursor.execute(_SUMMARY.format(where=where), params)
        (predictions, overrides, overridden, sum_change, sum_change2, with_actual, sum_actual, sum_actual2,
         e_sum, e_abs, e_sq, interval_n, inside, r_sum, r_abs, r_sq) = cursor.fetchone()
    change = None
    if overridden:
        mean = float(sum_change) / overridden
        change = stats.mean_interval(n=overridden, mean=mean, sum_squared_deviation=float(sum_change2) - overridden * mean * mean)
    actual = {"n": with_actual, "sum_actual": sum_actual, "sum_squared_actual": sum_actual2}
    return OverrideFigures(
        predictions=predictions, overridden=overridden, overrides=overrides, change=change,
        estimate=stats.accuracy_from_sums(
            **actual, sum_error=e_sum, sum_abs_error=e_abs, sum_squared_error=e_sq, interval_n=interval_n, inside=inside
        ),
        reviewed=stats.accuracy_from_sums(**actual, sum_error=r_sum, sum_abs_error=r_abs, sum_squared_error=r_sq),
    )
