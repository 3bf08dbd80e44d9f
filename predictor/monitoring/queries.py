"""The SQL behind the monitoring report: aggregates PostgreSQL computes over the stored predictions.

Kept apart from ``predictor.monitoring``, which turns these sums into figures: one query over
the rows with actual charges (GROUPING SETS for the overall figures and the breakdowns), one over
every prediction in the window (drift bins, out-of-range counts, daily volume by source), and
one for the chart's latest points.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from datetime import timezone as dt_timezone
from typing import Any

from django.db import connection

from ..features import OBESITY_BMI
from ..ml import drift
from ..models import ModelVersion

# The chart of predicted against actual charges shows at most this many of the latest rows.
CHART_POINTS = 1000
# The SQL twin of drift.input_fingerprint.
FINGERPRINT_SQL = (
    "left(md5(concat_ws('|', age, sex, round(bmi * 1000)::bigint, children, smoker, region)), 16)"
)


def window(since: date | None, until: date | None, version: ModelVersion | None) -> tuple[str, list[Any]]:
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


def fingerprint_case(references: dict[int, dict[str, Any]]) -> tuple[str, list[Any]]:
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
        branches.append(
            f"WHEN anonymised_at IS NULL AND model_version_id = ANY(%s) AND {FINGERPRINT_SQL} = ANY(%s::text[]) THEN 1"
        )
        params += [version_ids, list(values)]
    return f"sum(CASE {' '.join(branches)} ELSE 0 END)", params


def accuracy_rows(where: str, params: list[Any], references: dict[int, dict[str, Any]]) -> list[tuple]:
    """The sums of the rows with actual charges: overall, by month, interval group, region and version.

    Two stages: PostgreSQL first sums the rows by (month, group, region, version), a few hundred
    groups at most, in one parallel pass; GROUPING SETS over those sums then give each breakdown.
    (GROUPING SETS straight over the rows cannot run in parallel and sorts them: 4 times slower.)
    """
    in_sample, in_sample_params = fingerprint_case(references)
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
class WindowCounts:
    predictions: int = 0
    anonymised: int = 0  # of the predictions, those whose inputs are bands (left out of the numeric inputs' bins)
    bins: dict[str, dict[Any, int]] = field(default_factory=lambda: defaultdict(dict))
    outside: dict[str, int] = field(default_factory=dict)
    volume: list[tuple[date, str, int]] = field(default_factory=list)


def window_counts(
    where: str, params: list[Any], reference: dict[str, Any] | None, ranges: dict[str, list[float]], *, volume: bool
) -> WindowCounts:
    """Every prediction in the window: each input's drift bins, how many rows lie outside the training range
    (per numeric input, and any of them), and the daily volume by source.

    Like ``accuracy_rows``, in two stages: the rows counted by the combination of the six inputs'
    bins (a few thousand cells), then GROUPING SETS over the cells for each input's own counts.
    """
    inputs = (reference or {}).get("inputs", {})
    binned = [name for name in drift.DRIFT_INPUTS if name in inputs]
    bin_sql, bin_params = [], []
    for name in binned:
        if inputs[name]["kind"] == "numeric":
            # width_bucket(x, edges) is the number of edges <= x, like searchsorted(..., side="right").
            # An anonymised row's age, BMI and children are bands, not values: no bin (NULL) for them.
            bin_sql.append(f"CASE WHEN anonymised_at IS NULL THEN width_bucket({name}::float8, %s::float8[]) END")
            bin_params.append([float(edge) for edge in inputs[name]["edges"]] or [float("inf")])
        else:
            bin_sql.append(f"{name}::text")
    ranged = [name for name in drift.NUMERIC_INPUTS if name in ranges]
    outside_sql = [f"({name} < %s OR {name} > %s)" for name in ranged]
    outside_params = [float(bound) for name in ranged for bound in ranges[name]]
    if ranged:
        outside_sql.append(f"({' OR '.join(outside_sql)})")
        outside_params += outside_params
    keys = [f"{name}_bin" for name in binned]
    sums = [f"sum(({condition})::int) AS outside_{index}" for index, condition in enumerate(outside_sql)]
    sums.append("sum((anonymised_at IS NOT NULL)::int) AS anonymised")
    cells = ", ".join([*(f"{sql} AS {key}" for sql, key in zip(bin_sql, keys)), "count(*) AS n", *sums])
    sql = f"""
        WITH cells AS (
            SELECT {cells}
            FROM predictor_prediction
            WHERE {where}
            {'GROUP BY ' + ', '.join(str(i + 1) for i in range(len(keys))) if keys else ''}
        )
        SELECT {'GROUPING(' + ', '.join(keys) + '), ' + ', '.join(keys) if keys else '0'}, sum(n)
               {''.join(f', sum(outside_{index})' for index in range(len(outside_sql)))}, sum(anonymised)
        FROM cells
        {'GROUP BY GROUPING SETS (' + ', '.join([*(f'({key})' for key in keys), '()']) + ')' if keys else ''}
    """
    result = WindowCounts()
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
        key_values, count, outside = values[: len(keys)], int(values[len(keys)] or 0), values[len(keys) + 1 : -1]
        if grouping == everything:
            result.predictions = count
            result.anonymised = int(values[-1] or 0)
            result.outside = {name: int(value or 0) for name, value in zip([*ranged, "any"], outside)}
        else:
            for index, name in enumerate(binned):
                if grouping == everything ^ (1 << (len(keys) - 1 - index)):
                    result.bins[name][key_values[index]] = int(count)
    return result


def points(where: str, params: list[Any]) -> list[tuple[float, float, float | None, float | None]]:
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
