"""The 90% prediction interval: group-conditional split-conformal offsets, learnt in training and kept in the card.

Rows are grouped by smoker × (BMI > 30), because the size of the surprise a patient carries
depends on both; each group gets its own asymmetric offsets from out-of-fold residuals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy

from ..features import OBESITY_BMI, is_smoker

ALPHA = 0.10  # a 90% prediction interval

# How the groups read to a person, in the current language: the result page, the API and the
# staff console use these.
INTERVAL_GROUP_LABELS = {
    "smoker_obese": gettext_lazy("smokers with a BMI over 30"),
    "smoker_not_obese": gettext_lazy("smokers with a BMI of 30 or less"),
    "non_smoker_obese": gettext_lazy("non-smokers with a BMI over 30"),
    "non_smoker_not_obese": gettext_lazy("non-smokers with a BMI of 30 or less"),
}


def interval_group(row: Mapping[str, Any], obesity_bmi: float = OBESITY_BMI) -> str:
    """The interval's group of one row of raw inputs: smoker × obese, e.g. ``"smoker_obese"``."""
    smoker = "smoker" if is_smoker(row["smoker"]) else "non_smoker"
    obese = "obese" if float(row["bmi"]) > obesity_bmi else "not_obese"
    return f"{smoker}_{obese}"


def interval_group_label(group: str) -> str:
    """The words for a group in the current language, e.g. "smokers with a BMI over 30"; unknown groups as named."""
    return str(INTERVAL_GROUP_LABELS.get(group, group))


def prediction_interval(point: float, row: Mapping[str, Any], interval: Mapping[str, Any]) -> tuple[float, float]:
    """The (low, high) charges of the card's prediction interval around a point prediction, floored at 0."""
    offsets = interval["groups"][interval_group(row, interval.get("obesity_bmi", OBESITY_BMI))]
    return max(0.0, point + offsets["low"]), max(0.0, point + offsets["high"])


def prediction_intervals(points, smoker, bmi, interval: Mapping[str, Any]) -> tuple[Any, Any]:
    """``prediction_interval`` for arrays: the (low, high) arrays around an array of point predictions,
    each row's offsets those of its group (smoker words and BMI in the same order), floored at 0."""
    import numpy as np

    points = np.asarray(points, dtype="float64")
    smokes = np.char.lower(np.char.strip(np.asarray(smoker, dtype=str))) == "yes"  # is_smoker, for arrays
    obese = np.asarray(bmi, dtype="float64") > interval.get("obesity_bmi", OBESITY_BMI)
    low, high = np.empty_like(points), np.empty_like(points)
    for smoker_part, smoker_rows in (("smoker", smokes), ("non_smoker", ~smokes)):
        for obese_part, obese_rows in (("obese", obese), ("not_obese", ~obese)):
            rows = smoker_rows & obese_rows
            if rows.any():
                offsets = interval["groups"][f"{smoker_part}_{obese_part}"]
                low[rows] = np.maximum(0.0, points[rows] + offsets["low"])
                high[rows] = np.maximum(0.0, points[rows] + offsets["high"])
    return low, high


def conformal_offsets(residuals, groups, alpha: float) -> dict[str, dict[str, float]]:
    """Group-conditional (Mondrian) split-conformal offsets from out-of-fold residuals (actual - predicted).

    Per group of n residuals, k = ceil((n+1)(1-alpha)) is the finite-sample rank; the offsets are
    the narrowest window that holds k consecutive sorted residuals and also 0, so that the
    interval always contains the point estimate. It is asymmetric because charges are skewed
    (most rows sit on the formula, a few carry a large surprise upward); rounded outward to dollars.
    """
    import numpy as np

    residuals, groups = np.asarray(residuals, dtype="float64"), np.asarray(groups)
    offsets = {}
    for group in sorted(set(groups.tolist())):
        ordered = np.sort(residuals[groups == group])
        n = len(ordered)
        k = math.ceil((n + 1) * (1 - alpha))
        if k > n:
            raise ValueError(f"group {group} has {n} rows: too few for a {1 - alpha:.0%} interval")
        lows = np.minimum(ordered[: n - k + 1], 0.0)
        highs = np.maximum(ordered[k - 1 :], 0.0)
        start = int(np.argmin(highs - lows))
        offsets[group] = {
            "low": float(math.floor(lows[start])),
            "high": float(math.ceil(highs[start])),
            "n": n,
            "level": round(k / n, 4),
        }
    return offsets
