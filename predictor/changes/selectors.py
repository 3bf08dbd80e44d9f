"""Reads: the rows the champion and the challenger are compared on, each segment's counts, and the history of changes.

A version's answer for a stored prediction is the prediction's own charge (and interval) when that
version made it, else its ``ChallengerScore`` row (written by ``manage.py challenger_score``). The
rows compared are the predictions with an actual charge and both versions' answers; the others with
an actual charge are counted as skipped: anonymised by retention (their inputs are bands, so they
are never scored) or not scored yet. Segments are labelled in SQL, once, for both the compared rows
and the counts of every prediction.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import QuerySet

from ..features import OBESITY_BMI
from ..forecasts.cohorts import AGE_BANDS
from ..models import ModelChange, ModelVersion
from ..retention import BANDS


def _age_band_sql() -> str:
    whens = " ".join(f"WHEN p.age <= {last} THEN '{label}'" for label, _, last in AGE_BANDS if last is not None)
    return f"CASE {whens} ELSE '{AGE_BANDS[-1][0]}' END"


def _bmi_band_sql() -> str:
    bands = BANDS["bmi"]
    whens = " ".join(
        f"WHEN p.bmi {'<=' if band.inclusive else '<'} {float(band.upper)!r} THEN '{band.label}'" for band in bands[:-1]
    )
    return f"CASE {whens} ELSE '{bands[-1].label}' END"


# Each segment's SQL label of a prediction ``p``; the interval group is ml.interval.interval_group's.
SEGMENT_SQL = {
    "smoker": "p.smoker",
    "region": "p.region",
    "sex": "p.sex",
    "age_band": _age_band_sql(),
    "bmi_band": _bmi_band_sql(),
    "interval_group": (
        f"CASE WHEN p.smoker = 'yes' THEN 'smoker' ELSE 'non_smoker' END"
        f" || CASE WHEN p.bmi > {OBESITY_BMI!r} THEN '_obese' ELSE '_not_obese' END"
    ),
    "month": "to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM')",
}
SEGMENTS = tuple(SEGMENT_SQL)
# The order of each dimension's groups (the others are sorted).
SEGMENT_ORDERS = {
    "age_band": [label for label, _, _ in AGE_BANDS],
    "bmi_band": [band.label for band in BANDS["bmi"]],
    "interval_group": ["non_smoker_not_obese", "non_smoker_obese", "smoker_not_obese", "smoker_obese"],
}


ANSWERS = ("champion", "champion_low", "champion_high", "challenger", "challenger_low", "challenger_high")


@dataclass
class ComparisonRows:
    """The rows both versions answered that have an actual charge, as arrays in prediction id order."""

    ids: np.ndarray
    actual: np.ndarray
    champion: tuple[np.ndarray, np.ndarray, np.ndarray]  # estimate, low, high (NaN: no interval)
    challenger: tuple[np.ndarray, np.ndarray, np.ndarray]
    segments: dict[str, np.ndarray] = field(default_factory=dict)
    with_actual: int = 0  # every prediction with an actual charge
    skipped_anonymised: int = 0
    skipped_not_scored: int = 0


def _answer_sql(alias: str, version_param: str) -> str:
    return ", ".join(
        f"(CASE WHEN p.model_version_id = %({version_param})s THEN p.{own} ELSE {alias}.{score} END)::float8"
        for own, score in (("predicted_charges", "charges"), ("predicted_charges_low", "charges_low"),
                           ("predicted_charges_high", "charges_high"))
    )


def comparison_rows(*, champion: ModelVersion, challenger: ModelVersion) -> ComparisonRows:
    """The predictions with an actual charge and both versions' answers, and how many were skipped and why."""
    labels = ", ".join(f"{sql} AS {name}" for name, sql in SEGMENT_SQL.items())
    sql = f"""
        SELECT p.id, p.actual_charges::float8, (p.anonymised_at IS NOT NULL)::int,
               {_answer_sql('champion', 'champion')}, {_answer_sql('challenger', 'challenger')}, {labels}
        FROM predictor_prediction p
        LEFT JOIN predictor_challenger_score champion
               ON champion.prediction_id = p.id AND champion.model_version_id = %(champion)s
        LEFT JOIN predictor_challenger_score challenger
               ON challenger.prediction_id = p.id AND challenger.model_version_id = %(challenger)s
        WHERE p.actual_charges IS NOT NULL
        ORDER BY p.id
    """
    # COPY's CSV read by pandas: several times faster than fetching a million rows as Python tuples.
    buffer = io.StringIO()
    with connection.cursor() as cursor:
        query = cursor.mogrify(sql, {"champion": champion.pk, "challenger": challenger.pk}).decode()
        cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
    buffer.seek(0)
    names = ["id", "actual", "anonymised", *ANSWERS, *SEGMENTS]
    frame = pd.read_csv(
        buffer, header=None, names=names, keep_default_na=False, na_values=[""],
        dtype={"id": "int64", "actual": "float64", "anonymised": "int64", **dict.fromkeys(ANSWERS, "float64"),
               **dict.fromkeys(SEGMENTS, str)},
    )
    answered = (frame["champion"].notna() & frame["challenger"].notna()).to_numpy()
    anonymised = frame["anonymised"].to_numpy() == 1
    kept = frame[answered]

    def column(name: str) -> np.ndarray:
        return kept[name].to_numpy(dtype="float64")

    return ComparisonRows(
        ids=kept["id"].to_numpy(),
        actual=column("actual"),
        champion=(column("champion"), column("champion_low"), column("champion_high")),
        challenger=(column("challenger"), column("challenger_low"), column("challenger_high")),
        segments={name: kept[name].to_numpy(dtype=str) for name in SEGMENTS},
        with_actual=len(frame),
        skipped_anonymised=int((anonymised & ~answered).sum()),
        skipped_not_scored=int((~anonymised & ~answered).sum()),
    )


def segment_counts() -> tuple[list[tuple[str, str, int, int]], int, int]:
    """Every stored prediction by segment: (dimension, group, predictions, with an actual charge), and the totals."""
    selects = ", ".join(f"{sql} AS {name}" for name, sql in SEGMENT_SQL.items())
    sets = ", ".join(f"({name})" for name in SEGMENTS)
    sql = f"""
        WITH labelled AS (SELECT {selects}, p.actual_charges IS NOT NULL AS has_actual FROM predictor_prediction p)
        SELECT {', '.join(f'GROUPING({name})' for name in SEGMENTS)}, {', '.join(SEGMENTS)},
               count(*), count(*) FILTER (WHERE has_actual)
        FROM labelled
        GROUP BY GROUPING SETS ({sets}, ())
    """
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    size = len(SEGMENTS)
    groups, predictions, with_actual = [], 0, 0
    for row in rows:
        grouping, values, (count, actuals) = row[:size], row[size: 2 * size], row[2 * size:]
        ungrouped = [index for index, bit in enumerate(grouping) if bit == 0]
        if not ungrouped:
            predictions, with_actual = int(count), int(actuals)
        else:
            groups.append((SEGMENTS[ungrouped[0]], values[ungrouped[0]], int(count), int(actuals)))

    def order(item: tuple[str, str, int, int]) -> tuple[int, int, str]:
        dimension, group = item[0], item[1]
        known = SEGMENT_ORDERS.get(dimension, [])
        return SEGMENTS.index(dimension), known.index(group) if group in known else len(known), group

    return sorted(groups, key=order), predictions, with_actual


def champion_and_challenger() -> tuple[ModelVersion | None, ModelVersion | None]:
    """The active version (the champion) and the challenger, each None when there is none."""
    return ModelVersion.objects.filter(active=True).first(), ModelVersion.objects.filter(challenger=True).first()


def model_change_history() -> QuerySet[ModelChange]:
    """Every model change, newest first, with its versions and who made it."""
    return ModelChange.objects.select_related("from_version", "to_version", "changed_by").order_by("-created_at", "-id")
