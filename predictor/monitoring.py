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

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from .features import OBESITY_BMI
from .ml import stats
from .ml.artifacts import ModelArtifactError, artifact_path_for, read_card
from .ml.interval import INTERVAL_GROUP_LABELS
from .models import ModelVersion, Prediction

# The chart of predicted against actual charges shows at most this many of the latest rows.
CHART_POINTS = 1000
REGION_LABELS = dict(Prediction.Region.choices)
SOURCE_LABELS = dict(Prediction.Source.choices)
NUMERIC_INPUTS = stats.NUMERIC_INPUTS

# The SQL twin of stats.input_fingerprint.
FINGERPRINT_SQL = (
    "left(md5(concat_ws('|', age, sex, round(bmi * 1000)::bigint, children, smoker, region)), 16)"
)


# ---------------------------------------------------------------------------
# What the report holds


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
    inputs: list[stats.InputDrift]
    out_of_range: dict[str, float]  # share of the window outside the training range, per numeric input and "any"

    @property
    def flags(self) -> list[str]:
        return [
            f"drift: {item.name}: PSI {item.psi:.3f} over {item.n:,} predictions, beyond the {item.threshold:.3f} "
            f"that 99% of training resamples of that size stay under, and at least {stats.PSI_WATCH}"
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


# ---------------------------------------------------------------------------
# Model cards: holdout figures and the drift reference


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


# ---------------------------------------------------------------------------
# The queries


def _window(since: date | None, until: date | None, version: ModelVersion | None) -> tuple[str, list[Any]]:
    conditions, params = ["TRUE"], []
    if since is not None:
        conditions.append("created_at >= %s")
        params.append(datetime.combine(since, time.min, tzinfo=dt_timezone.utc))
    if until is not None and until < date.max:  # the last representable day has no next day: no upper bound
        conditions.append("created_at < %s")
        params.append(datetime.combine(until + timedelta(days=1), time.min, tzinfo=dt_timezone.utc))
    if version is not None:
        conditions.append("model_version_id = %s")
        params.append(version.pk)
    return " AND ".join(conditions), params


def _fingerprint_case(references: dict[int, dict[str, Any]]) -> tuple[str, list[Any]]:
    """SQL counting the rows whose inputs are in their own version's training data, one array per distinct data set."""
    by_values: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for version_id, reference in references.items():
        values = tuple(reference.get("fingerprints", {}).get("values", ()))
        if values:
            by_values[values].append(version_id)
    if not by_values:
        return "0", []
    branches, params = [], []
    for values, version_ids in by_values.items():
        branches.append(f"WHEN model_version_id = ANY(%s) AND {FINGERPRINT_SQL} = ANY(%s::text[]) THEN 1")
        params += [version_ids, list(values)]
    return f"sum(CASE {' '.join(branches)} ELSE 0 END)", params


def _accuracy_rows(where: str, params: list[Any], references: dict[int, dict[str, Any]]) -> list[tuple]:
    """The sums of the rows with actual charges: overall, by month, interval group, region and version.

    Two stages: PostgreSQL first sums the rows by (month, group, region, version), a few hundred
    groups at most, in one parallel pass; GROUPING SETS over those sums then give each breakdown.
    (GROUPING SETS straight over the rows cannot run in parallel and sorts them: 4 times slower.)
    """
    in_sample, in_sample_params = _fingerprint_case(references)
    sql = f"""
        WITH cells AS (
            SELECT date_trunc('month', created_at, 'UTC') AS month,
                   CASE WHEN smoker = 'yes' THEN 'smoker' ELSE 'non_smoker' END
                       || CASE WHEN bmi > %s THEN '_obese' ELSE '_not_obese' END AS grp,
                   region, model_version_id AS version_id,
                   count(*) AS n,
                   sum(actual_charges - predicted_charges) AS e,
                   sum(abs(actual_charges - predicted_charges)) AS e_abs,
                   sum((actual_charges - predicted_charges) * (actual_charges - predicted_charges)) AS e2,
                   sum(actual_charges) AS a,
                   sum(actual_charges * actual_charges) AS a2,
                   count(predicted_charges_low) AS interval_n,
                   count(*) FILTER (
                       WHERE actual_charges BETWEEN predicted_charges_low AND predicted_charges_high
                   ) AS inside,
                   {in_sample} AS in_sample
            FROM predictor_prediction
            WHERE actual_charges IS NOT NULL AND {where}
            GROUP BY 1, 2, 3, 4
        )
        SELECT GROUPING(month, grp, region, version_id), month, grp, region, version_id,
               sum(n), sum(e), sum(e_abs), sum(e2), sum(a), sum(a2), sum(interval_n), sum(inside), sum(in_sample)
        FROM cells
        GROUP BY GROUPING SETS ((), (month), (grp), (region), (version_id))
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [OBESITY_BMI, *in_sample_params, *params])
        rows = cursor.fetchall()
    # Without any row, the grand total is one row of nulls.
    return [
        (*row[:5], int(row[5]), *row[6:11], int(row[11]), int(row[12]), int(row[13] or 0)) for row in rows if row[5]
    ]


@dataclass
class _WindowCounts:
    predictions: int = 0
    bins: dict[str, dict[Any, int]] = field(default_factory=lambda: defaultdict(dict))
    outside: dict[str, int] = field(default_factory=dict)
    volume: list[tuple[date, str, int]] = field(default_factory=list)


def _window_counts(
    where: str, params: list[Any], reference: dict[str, Any] | None, ranges: dict[str, list[float]], *, volume: bool
) -> _WindowCounts:
    """Every prediction in the window: each input's drift bins, how many rows lie outside the training range
    (per numeric input, and any of them), and the daily volume by source.

    Like ``_accuracy_rows``, in two stages: the rows counted by the combination of the six inputs'
    bins (a few thousand cells), then GROUPING SETS over the cells for each input's own counts.
    """
    inputs = (reference or {}).get("inputs", {})
    binned = [name for name in stats.DRIFT_INPUTS if name in inputs]
    bin_sql, bin_params = [], []
    for name in binned:
        if inputs[name]["kind"] == "numeric":
            # width_bucket(x, edges) is the number of edges <= x, like searchsorted(..., side="right").
            bin_sql.append(f"width_bucket({name}::float8, %s::float8[])")
            bin_params.append([float(edge) for edge in inputs[name]["edges"]] or [float("inf")])
        else:
            bin_sql.append(f"{name}::text")
    ranged = [name for name in NUMERIC_INPUTS if name in ranges]
    outside_sql = [f"({name} < %s OR {name} > %s)" for name in ranged]
    outside_params = [float(bound) for name in ranged for bound in ranges[name]]
    if ranged:
        outside_sql.append(f"({' OR '.join(outside_sql)})")
        outside_params += outside_params
    keys = [f"{name}_bin" for name in binned]
    sums = [f"sum(({condition})::int) AS outside_{index}" for index, condition in enumerate(outside_sql)]
    cells = ", ".join([*(f"{sql} AS {key}" for sql, key in zip(bin_sql, keys)), "count(*) AS n", *sums])
    sql = f"""
        WITH cells AS (
            SELECT {cells}
            FROM predictor_prediction
            WHERE {where}
            {'GROUP BY ' + ', '.join(str(i + 1) for i in range(len(keys))) if keys else ''}
        )
        SELECT {'GROUPING(' + ', '.join(keys) + '), ' + ', '.join(keys) if keys else '0'}, sum(n)
               {''.join(f', sum(outside_{index})' for index in range(len(outside_sql)))}
        FROM cells
        {'GROUP BY GROUPING SETS (' + ', '.join([*(f'({key})' for key in keys), '()']) + ')' if keys else ''}
    """
    result = _WindowCounts()
    with connection.cursor() as cursor:
        cursor.execute(sql, [*bin_params, *outside_params, *params])
        rows = cursor.fetchall()
        if volume:
            cursor.execute(
                f"""
                SELECT (created_at AT TIME ZONE 'UTC')::date AS day, source, count(*)
                FROM predictor_prediction
                WHERE {where}
                GROUP BY 1, 2
                """,
                params,
            )
            result.volume = [(day, source, count) for day, source, count in cursor.fetchall()]
    # GROUPING(...) has a bit per key, the first key's the highest, set when the key is not grouped by.
    everything = (1 << len(keys)) - 1
    for grouping, *values in rows:
        key_values, count, outside = values[: len(keys)], int(values[len(keys)] or 0), values[len(keys) + 1 :]
        if grouping == everything:
            result.predictions = count
            result.outside = {name: int(value or 0) for name, value in zip([*ranged, "any"], outside)}
        else:
            for index, name in enumerate(binned):
                if grouping == everything ^ (1 << (len(keys) - 1 - index)):
                    result.bins[name][key_values[index]] = int(count)
    return result


def _points(where: str, params: list[Any]) -> list[tuple[float, float, float | None, float | None]]:
    sql = f"""
        SELECT predicted_charges, actual_charges, predicted_charges_low, predicted_charges_high
        FROM predictor_prediction
        WHERE actual_charges IS NOT NULL AND {where}
        ORDER BY created_at DESC, id DESC
        LIMIT %s
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, CHART_POINTS])
        return [
            (float(p), float(a), None if lo is None else float(lo), None if hi is None else float(hi))
            for p, a, lo, hi in cursor.fetchall()
        ]


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
    where, params = _window(since, until, model_version)
    versions = {version.pk: version for version in ModelVersion.objects.all()}
    references = {pk: drift_reference_for(version)[0] or {} for pk, version in versions.items()}

    # Accuracy, calibration, breakdowns: one query over the rows with actual charges.
    overall, months, groups, regions, by_version = None, [], [], [], []
    in_sample_total, in_sample_versions = 0, []
    for row in _accuracy_rows(where, params, references):
        grouping, month, group, region, version_id, *sums, in_sample = row
        accuracy = _accuracy(sums)
        if grouping == 0b1111:
            overall = _slice("overall", "all", "all predictions", accuracy)
        elif grouping == 0b0111:
            months.append(_slice("month", f"{month:%Y-%m}", f"month {month:%Y-%m}", accuracy))
        elif grouping == 0b1011:
            groups.append(_slice("group", group, INTERVAL_GROUP_LABELS.get(group, group), accuracy))
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
    window = _window_counts(where, params, reference, ranges, volume=detail)
    inputs = []
    for name, spec in ((reference or {}).get("inputs") or {}).items():
        counts = window.bins.get(name, {})
        if spec["kind"] == "numeric":
            bins = [counts.get(index, 0) for index in range(len(spec["edges"]) + 1)]
        else:
            bins = [counts.get(category, 0) for category in spec["categories"]]
        result = stats.input_drift(name, spec, bins)
        if result is not None:
            inputs.append(result)
    drift = Drift(
        reference=reference_version.name if reference is not None else None,
        missing=missing,
        n=window.predictions,
        inputs=inputs,
        out_of_range={name: count / window.predictions for name, count in window.outside.items()} if window.predictions else {},
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
        points=_points(where, params) if detail else [],
    )


# ---------------------------------------------------------------------------
# Training rows from what was learned

TRAINING_COLUMNS = ("age", "sex", "bmi", "children", "smoker", "region", "charges")


def training_rows() -> Iterator[tuple]:
    """The predictions with actual charges as rows of the training file (the charges are the actual ones), oldest first."""
    return (
        Prediction.objects.filter(actual_charges__isnull=False)
        .order_by("created_at", "id")
        .values_list("age", "sex", "bmi", "children", "smoker", "region", "actual_charges")
        .iterator(chunk_size=5000)
    )
