"""Reads: live monitoring of the stored predictions, for the staff page, the admin index and ``monitor_report``.

For a period (dates of the predictions, ``since`` to ``until`` inclusive, UTC) and a model
version (or all), on the predictions with actual charges: count, MAE, RMSE, R², the mean bias
(actual − predicted) with its 95% interval and the 90% interval's coverage with its Wilson
interval, overall, by month, by interval group, by region and by model version, next to the
model cards' holdout figures; alerts; and the inputs' drift against the training data of the
model card (the chosen version's, or the active one's).

PostgreSQL does the aggregation: one query over the rows with actual charges (GROUPING SETS
for the overall figures and the four breakdowns), one over every prediction in the window
(the drift bins, the out-of-range counts and the daily volume by source), and one for the
chart's latest points. Python only turns sums into figures (``predictor.ml.stats``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from django.db import connection, transaction

from ..ml import drift as drift_stats
from ..ml import stats
from ..ml.interval import INTERVAL_GROUP_LABELS, interval_group_label
from ..models import ModelVersion
from . import queries as monitoring_queries
from .cards import drift_reference_for, model_version_holdout
from .figures import Drift, InSample, MonitoringReport, Slice

# ---------------------------------------------------------------------------
# The report


class MonitoringUnavailable(Exception):
    """Monitoring needs PostgreSQL (its aggregation is written for it); the local SQLite run has none."""


@contextmanager
def _aggregating() -> Iterator[None]:
    """One transaction for the report's queries, set for aggregating a million rows.

    Without JIT compilation: PostgreSQL JIT-compiles queries this large, and at a million rows
    compiling took longer (1.1 s) than the query. With 32 MB of work memory: the planner expects
    up to 100,000 combinations of the inputs' bins (there are a few thousand) and, with the
    default 4 MB, sorts a million rows on disk instead of hashing them (0.8 s instead of 0.3 s).
    """
    if connection.vendor != "postgresql":
        raise MonitoringUnavailable(
            "Monitoring aggregates in PostgreSQL; this database is "
            f"{connection.vendor}. Set DATABASE_URL to a PostgreSQL database."
        )
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '32MB'")
        yield


def _accuracy(row: tuple) -> stats.Accuracy | None:
    n, sum_e, sum_abs, sum_e2, sum_a, sum_a2, interval_n, inside = row
    return stats.accuracy_from_sums(
        n=n, sum_error=sum_e, sum_abs_error=sum_abs, sum_squared_error=sum_e2, sum_actual=sum_a,
        sum_squared_actual=sum_a2, interval_n=interval_n, inside=inside,
    )


def _alerts(label: str, accuracy: stats.Accuracy) -> list[str]:
    alerts = []
    if stats.coverage_alert(accuracy):
        c = accuracy.coverage
        alerts.append(
            f"coverage: {label}: the 90% interval held for {c.value:.1%} of {accuracy.interval_n:,} predictions "
            f"(95% CI {c.low:.1%} to {c.high:.1%}), below {stats.COVERAGE_FLOOR:.0%} even at the upper bound"
        )
    if stats.bias_alert(accuracy):
        b = accuracy.bias
        alerts.append(
            f"bias: {label}: actual − predicted is ${b.value:,.0f} on average over {accuracy.n:,} predictions "
            f"(95% CI ${b.low:,.0f} to ${b.high:,.0f}), beyond {stats.BIAS_SHARE:.0%} of the mean charges "
            f"(${stats.BIAS_SHARE * accuracy.mean_actual:,.0f}) from 0"
        )
    return alerts


def _slice(kind: str, key: str, label: str, accuracy: stats.Accuracy, **extra: Any) -> Slice:
    return Slice(kind=kind, key=key, label=label, accuracy=accuracy, alerts=_alerts(label, accuracy), **extra)


def monitoring_report(
    *,
    since: date | None = None,
    until: date | None = None,
    model_version: ModelVersion | None = None,
    detail: bool = True,
) -> MonitoringReport:
    """The figures of the predictions made from ``since`` to ``until`` (inclusive days, UTC) by one version or all.

    ``detail=False`` leaves out what only the charts need (the daily volume, the latest points).
    Raises MonitoringUnavailable on a database other than PostgreSQL.
    """
    with _aggregating():
        return _report(since=since, until=until, model_version=model_version, detail=detail)


def _report(*, since: date | None, until: date | None, model_version: ModelVersion | None, detail: bool) -> MonitoringReport:
    where, params = monitoring_queries.window(since, until, model_version)
    versions = {version.pk: version for version in ModelVersion.objects.all()}
    references = {pk: drift_reference_for(version)[0] or {} for pk, version in versions.items()}

    # Accuracy, calibration, breakdowns: one query over the rows with actual charges.
    overall, months, groups, regions, by_version = None, [], [], [], []
    in_sample_total, in_sample_versions = 0, []
    for row in monitoring_queries.accuracy_rows(where, params, references):
        grouping, month, group, region, version_id, *sums, in_sample = row
        accuracy = _accuracy(sums)
        if grouping == 0b1111:
            overall = _slice("overall", "all", "all predictions", accuracy)
        elif grouping == 0b0111:
            months.append(_slice("month", f"{month:%Y-%m}", f"month {month:%Y-%m}", accuracy))
        elif grouping == 0b1011:
            groups.append(_slice("group", group, interval_group_label(group), accuracy))
        elif grouping == 0b1101:
            regions.append(_slice("region", region, f"region {region}", accuracy))
        elif grouping == 0b1110:
            version = versions[version_id]
            in_sample = int(in_sample or 0)
            by_version.append(
                _slice(
                    "version", version.name, f"model {version.name}", accuracy,
                    holdout=model_version_holdout(version), in_sample=in_sample,
                )
            )
            if in_sample:
                in_sample_total += in_sample
                in_sample_versions.append(version.name)

    # Drift, out of range and daily volume: one query over every prediction in the window.
    reference_version = model_version or next((v for v in versions.values() if v.active), None)
    reference, missing = None, "No model version is active, so there is no training data to compare with."
    if reference_version is not None:
        reference, missing = drift_reference_for(reference_version)
    ranges = (reference_version.card or {}).get("training_ranges", {}) if reference_version else {}
    window = monitoring_queries.window_counts(where, params, reference, ranges, volume=detail)
    inputs = []
    for name, spec in ((reference or {}).get("inputs") or {}).items():
        counts = window.bins.get(name, {})
        if spec["kind"] == "numeric":
            bins = [counts.get(index, 0) for index in range(len(spec["edges"]) + 1)]
        else:
            bins = [counts.get(category, 0) for category in spec["categories"]]
        result = drift_stats.input_drift(name, spec, bins)
        if result is not None:
            inputs.append(result)
    drift = Drift(
        reference=reference_version.name if reference is not None else None,
        missing=missing,
        n=window.predictions,
        inputs=inputs,
        out_of_range={name: count / window.predictions for name, count in window.outside.items()} if window.predictions else {},
        anonymised=window.anonymised,
    )
    total_actuals = overall.accuracy.n if overall else 0
    return MonitoringReport(
        since=since,
        until=until,
        model=model_version.name if model_version else None,
        predictions=window.predictions,
        overall=overall,
        by_month=sorted(months, key=lambda part: part.key),
        by_group=sorted(groups, key=lambda part: list(INTERVAL_GROUP_LABELS).index(part.key) if part.key in INTERVAL_GROUP_LABELS else 99),
        by_region=sorted(regions, key=lambda part: part.key),
        by_version=sorted(by_version, key=lambda part: part.key),
        holdout=model_version_holdout(reference_version) if reference_version else None,
        in_sample=InSample(count=in_sample_total, of=total_actuals, versions=in_sample_versions) if in_sample_total else None,
        drift=drift,
        volume=sorted(window.volume),
        points=monitoring_queries.points(where, params) if detail else [],
    )
