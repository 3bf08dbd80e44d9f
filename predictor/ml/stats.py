"""The monitoring statistics: accuracy from sums, confidence intervals and alerts (input drift: ``drift``).

Accuracy is computed from sums that PostgreSQL aggregates (count, Σ error, Σ |error|, Σ error²,
Σ actual, Σ actual², interval hits), so a million rows never come to Python. The sums of
``numeric`` columns are exact, and the differences of squares are taken in ``Decimal``, so
the figures equal scikit-learn's and scipy's on the same rows (the tests compare them).

Numbers only here: no database, no Django models. NumPy, and scipy for the t quantile.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from statistics import NormalDist
from typing import Any

CONFIDENCE = 0.95
Z_95 = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)

# Alerts: only on a slice with at least this many actual charges.
MIN_ACTUALS = 30
# Coverage: the 90% interval's Wilson upper bound below this.
COVERAGE_FLOOR = 0.87
# Bias: the confidence interval of the mean error excludes 0 by more than this share of the mean actual charges.
BIAS_SHARE = 0.10


# ---------------------------------------------------------------------------
# Accuracy and calibration


@dataclass(frozen=True)
class Estimate:
    """A figure with its 95% confidence interval (``low`` and ``high`` are None when it cannot be had)."""

    value: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Accuracy:
    """How a set of predictions with actual charges fared.

    ``n`` rows; ``mae``, ``rmse`` and ``r2`` as scikit-learn defines them (``r2`` None with fewer
    than 2 rows or no spread in the actual charges); ``bias`` the mean of actual − predicted with
    its t interval; ``coverage`` the share of the rows with an interval whose actual charge fell
    inside it, with its Wilson interval (None when no row has an interval).
    """

    n: int
    mae: float
    rmse: float
    r2: float | None
    bias: Estimate
    mean_actual: float
    coverage: Estimate | None
    interval_n: int
    inside: int


def _decimal(value: Any) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(repr(value) if isinstance(value, float) else value)


def accuracy_from_sums(
    *,
    n: int,
    sum_error: Any,
    sum_abs_error: Any,
    sum_squared_error: Any,
    sum_actual: Any,
    sum_squared_actual: Any,
    interval_n: int = 0,
    inside: int = 0,
) -> Accuracy | None:
    """The figures of ``n`` rows from their sums (error = actual − predicted); None for no rows."""
    if not n:
        return None
    e, e_abs, e2 = _decimal(sum_error), _decimal(sum_abs_error), _decimal(sum_squared_error)
    y, y2 = _decimal(sum_actual), _decimal(sum_squared_actual)
    mean_error = float(e / n)
    sse = float(e2)
    sst = float(y2 - y * y / n)
    r2 = 1 - sse / sst if n >= 2 and sst > 0 else None
    return Accuracy(
        n=n,
        mae=float(e_abs / n),
        rmse=math.sqrt(sse / n),
        r2=r2,
        bias=mean_interval(n=n, mean=mean_error, sum_squared_deviation=float(e2 - e * e / n)),
        mean_actual=float(y / n),
        coverage=wilson_interval(inside, interval_n) if interval_n else None,
        interval_n=interval_n,
        inside=inside,
    )


def accuracy_from_rows(actual: Sequence[float], predicted: Sequence[float], low=None, high=None) -> Accuracy | None:
    """The same figures from rows held in memory (a card's holdout), through the same sums."""
    rows = list(zip(actual, predicted))
    errors = [_decimal(a) - _decimal(p) for a, p in rows]
    bounds = list(zip(low, high)) if low is not None and high is not None else []
    return accuracy_from_sums(
        n=len(rows),
        sum_error=sum(errors, Decimal(0)),
        sum_abs_error=sum((abs(e) for e in errors), Decimal(0)),
        sum_squared_error=sum((e * e for e in errors), Decimal(0)),
        sum_actual=sum((_decimal(a) for a, _ in rows), Decimal(0)),
        sum_squared_actual=sum((_decimal(a) ** 2 for a, _ in rows), Decimal(0)),
        interval_n=len(bounds),
        inside=sum(1 for (a, _), (lo, hi) in zip(rows, bounds) if lo <= a <= hi),
    )


def mean_interval(*, n: int, mean: float, sum_squared_deviation: float) -> Estimate:
    """The mean with its 95% Student-t confidence interval, from n and Σ (x − mean)²."""
    if n < 2:
        return Estimate(mean, None, None)
    from scipy.stats import t

    standard_error = math.sqrt(max(sum_squared_deviation, 0.0) / (n - 1) / n)
    half = float(t.ppf(0.5 + CONFIDENCE / 2, n - 1)) * standard_error
    return Estimate(mean, mean - half, mean + half)


def wilson_interval(successes: int, n: int) -> Estimate:
    """A proportion with its 95% Wilson score interval (no continuity correction)."""
    rate = successes / n
    z2 = Z_95 * Z_95
    denominator = 1 + z2 / n
    centre = (rate + z2 / (2 * n)) / denominator
    half = Z_95 * math.sqrt(rate * (1 - rate) / n + z2 / (4 * n * n)) / denominator
    return Estimate(rate, max(0.0, centre - half), min(1.0, centre + half))


def coverage_alert(accuracy: Accuracy) -> bool:
    """The 90% interval holds too rarely: at least MIN_ACTUALS rows and a Wilson upper bound below COVERAGE_FLOOR."""
    return (
        accuracy.coverage is not None
        and accuracy.interval_n >= MIN_ACTUALS
        and accuracy.coverage.high < COVERAGE_FLOOR
    )


def bias_alert(accuracy: Accuracy) -> bool:
    """The mean error is off: at least MIN_ACTUALS rows, and its interval excludes 0 by more than BIAS_SHARE of the mean charges."""
    if accuracy.n < MIN_ACTUALS or accuracy.bias.low is None:
        return False
    margin = BIAS_SHARE * abs(accuracy.mean_actual)
    return accuracy.bias.low > margin or accuracy.bias.high < -margin
