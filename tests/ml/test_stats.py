"""ml.stats: every monitoring figure against an independent computation.

Accuracy against scikit-learn's metrics, the confidence intervals against scipy (the t
interval of ``ttest_1samp``, the Wilson interval of ``binomtest``), PSI against a fixture
worked by hand, and the size-aware threshold against resampling the data file's rows. Figures
computed from exact cents agree to floating-point rounding: within 1e-9 (relative) here.
"""

import math
import random
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, ttest_1samp
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from predictor.ml import artifacts, stats

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


# ---------------------------------------------------------------------------
# Drift: PSI worked by hand


def test_psi_worked_by_hand():
    # shares 0.5/0.3/0.2 against 0.4/0.3/0.3:
    # (0.4-0.5)·ln(0.4/0.5) + 0 + (0.3-0.2)·ln(0.3/0.2) = 0.1·ln(1.25) + 0.1·ln(1.5) = 0.0628609
    assert stats.psi([50, 30, 20], [40, 30, 30]) == pytest.approx(0.1 * math.log(1.25) + 0.1 * math.log(1.5), rel=TOLERANCE)
    assert stats.psi([50, 30, 20], [40, 30, 30]) == pytest.approx(0.0628609, abs=1e-7)
    # Identical shares: 0, whatever the counts.
    assert stats.psi([50, 30, 20], [5, 3, 2]) == 0.0
    # An empty bin counts as a share of 0.0001: (1-0.5)·ln(1/0.5) + (0.0001-0.5)·ln(0.0001/0.5)
    assert stats.psi([50, 50], [100, 0]) == pytest.approx(0.5 * math.log(2) + 0.4999 * math.log(5000), rel=TOLERANCE)


# Ten training ages; their deciles (inverse empirical distribution) are 20,20,30,30,40,40,50,50,60,
# so the edges above the minimum are 30, 40, 50, 60 and each of the five bins holds 2 rows (0.2).
TRAINING_AGES = [20, 20, 30, 30, 40, 40, 50, 50, 60, 60]
# A window: <30: 25 | [30,40): 30, 35 | [40,50): 40, 45, 45 | [50,60): 55 | >=60: 60, 65, 65
# (an age equal to an edge counts in the bin above it), so 0.1, 0.2, 0.3, 0.1, 0.3 and
# PSI = 2·(0.1-0.2)·ln(0.1/0.2) + 2·(0.3-0.2)·ln(0.3/0.2) = 0.2·ln 2 + 0.2·ln 1.5 = 0.2·ln 3.
WINDOW_AGES = [25, 30, 35, 40, 45, 45, 55, 60, 65, 65]
WINDOW_AGES_PSI = 0.2 * math.log(3)


def test_numeric_inputs_are_binned_on_the_training_deciles_worked_by_hand():
    edges = stats.numeric_bin_edges(TRAINING_AGES)
    assert edges == [30.0, 40.0, 50.0, 60.0]
    spec = {"kind": "numeric", "edges": edges}
    assert stats.bin_counts(TRAINING_AGES, spec) == [2, 2, 2, 2, 2]
    assert stats.bin_counts(WINDOW_AGES, spec) == [1, 2, 3, 1, 3]
    assert stats.numeric_bin_labels(edges) == ["< 30", "30 to < 40", "40 to < 50", "50 to < 60", "≥ 60"]
    drift = stats.input_drift("age", {**spec, "counts": [2, 2, 2, 2, 2]}, [1, 2, 3, 1, 3])
    assert drift.psi == pytest.approx(WINDOW_AGES_PSI, rel=TOLERANCE)
    assert drift.bins[2] == ("40 to < 50", 0.2, 0.3)


def test_categorical_inputs_are_binned_by_category():
    frame = pd.DataFrame(
        {
            "age": TRAINING_AGES, "sex": ["female", "male"] * 5, "bmi": [float(a) for a in TRAINING_AGES],
            "children": [0, 1] * 5, "smoker": ["yes", "no", "no", "no", "no"] * 2, "region": ["northeast"] * 10,
        }
    )
    reference = stats.drift_reference(frame)
    assert reference["rows"] == 10
    assert reference["inputs"]["smoker"] == {"kind": "categorical", "categories": ["no", "yes"], "counts": [8, 2]}
    assert reference["inputs"]["age"] == {"kind": "numeric", "edges": [30.0, 40.0, 50.0, 60.0], "counts": [2, 2, 2, 2, 2]}
    # children 0,1,0,1...: the deciles are 0 and 1, and only 1 is above the minimum.
    assert reference["inputs"]["children"] == {"kind": "numeric", "edges": [1.0], "counts": [5, 5]}
    # smoker 2 of 10 in training, 4 of 10 in the window:
    # (0.6-0.8)·ln(0.6/0.8) + (0.4-0.2)·ln(0.4/0.2) = 0.2·ln(4/3) + 0.2·ln 2
    drift = stats.input_drift("smoker", reference["inputs"]["smoker"], [6, 4])
    assert drift.psi == pytest.approx(0.2 * math.log(4 / 3) + 0.2 * math.log(2), rel=TOLERANCE)
    assert len(reference["fingerprints"]["values"]) == 10


def test_fingerprints_name_the_six_inputs_with_bmi_to_three_decimals():
    patient = {"age": 19, "sex": "female", "bmi": 27.9, "children": 0, "smoker": "yes", "region": "southwest"}
    import hashlib

    assert stats.input_fingerprint(patient) == hashlib.md5(b"19|female|27900|0|yes|southwest").hexdigest()[:16]
    assert stats.input_fingerprint({**patient, "bmi": 27.901}) != stats.input_fingerprint(patient)
    assert stats.input_fingerprint({**patient, "bmi": 27.9004}) == stats.input_fingerprint(patient)


# ---------------------------------------------------------------------------
# Drift: the status and the size-aware threshold


def test_a_drift_flag_needs_both_more_than_chance_and_the_conventional_0_1():
    assert stats.drift_status(0.30, threshold=0.05) == "drift"
    assert stats.drift_status(0.12, threshold=0.05) == "drift"
    assert stats.drift_status(0.05, threshold=0.01) == "ok"  # more than chance at a large window, but small
    assert stats.drift_status(0.40, threshold=1.70) == "watch"  # large, but a tiny window shows that by chance
    assert stats.drift_status(0.02, threshold=0.05) == "ok"
    assert [stats.psi_band(value) for value in (0.0, 0.099, 0.1, 0.249, 0.25)] == ["ok", "ok", "watch", "watch", "drift"]


@pytest.fixture(scope="module")
def training(insurance_csv):
    frame = pd.read_csv(insurance_csv)
    return frame, stats.drift_reference(frame)


def window_drift(reference, window: pd.DataFrame) -> dict[str, stats.InputDrift]:
    result = {}
    for name, spec in reference["inputs"].items():
        values = window[name].astype(str).tolist() if spec["kind"] == "categorical" else window[name]
        result[name] = stats.input_drift(name, spec, stats.bin_counts(values, spec))
    return result


def test_the_committed_cards_hold_the_drift_reference_of_the_data_file(training, loaded_model):
    frame, reference = training
    for name in ("huber-blend-v1", "huber-blend-v2", "tutorial-lr-v1"):
        card = artifacts.read_card(artifacts.artifact_path_for(name))
        assert card["drift_reference"] == reference, name
    assert reference["rows"] == 1338
    assert all(sum(spec["counts"]) == 1338 for spec in reference["inputs"].values())
    assert all(min(spec["counts"]) > 0 for spec in reference["inputs"].values())
    # 1,338 rows, three of which repeat another row's inputs.
    assert len(reference["fingerprints"]["values"]) == len(frame.drop_duplicates(list(stats.DRIFT_INPUTS))) == 1335


@pytest.mark.parametrize("n", [50, 200])
def test_the_threshold_is_the_99th_percentile_of_resampled_training_rows(training, n):
    """Drawing bin counts from the multinomial is resampling the data file's rows: compared with doing the latter.

    Both are Monte Carlo estimates of the same percentile from 2,000 draws; they agree within 15%.
    """
    frame, reference = training
    rng = np.random.default_rng(2024)
    for name, spec in reference["inputs"].items():
        values = frame[name].astype(str).to_numpy() if spec["kind"] == "categorical" else frame[name].to_numpy()
        resampled = [
            stats.psi(spec["counts"], stats.bin_counts(list(rng.choice(values, n)), spec)) for _ in range(2000)
        ]
        assert stats.psi_threshold(spec["counts"], n, name=name) == pytest.approx(np.quantile(resampled, 0.99), rel=0.15), name


def test_the_threshold_shrinks_with_the_window_and_is_the_same_every_time(training):
    _, reference = training
    counts = reference["inputs"]["age"]["counts"]
    thresholds = [stats.psi_threshold(counts, n, name="age") for n in (30, 200, 1000, 10_000)]
    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[0] > 1.0 > 0.1 > thresholds[-1]
    assert stats.psi_threshold(counts, 200, name="age") == thresholds[1]


def test_replaying_training_rows_over_100_windows_raises_at_most_1_percent_false_drift_flags(training):
    frame, reference = training
    rng = np.random.default_rng(100)
    flags = beyond_chance = 0
    windows_flagged = 0
    for _ in range(100):
        window = frame.iloc[rng.choice(len(frame), 200)]
        drift = window_drift(reference, window)
        flags += sum(item.flagged for item in drift.values())
        beyond_chance += sum(item.psi > item.threshold for item in drift.values())
        windows_flagged += any(item.flagged for item in drift.values())
    checks = 100 * len(reference["inputs"])
    assert flags / checks <= 0.01
    assert windows_flagged <= 1
    # The threshold alone: about 1% of checks by construction (measured: 8 of 600).
    assert beyond_chance / checks <= 0.02


def test_raising_the_smoker_share_from_20_to_40_percent_flags_smoker_in_the_first_window_of_200(training):
    frame, reference = training
    assert reference["inputs"]["smoker"]["counts"] == [1064, 274]  # 20.5% smokers in training
    rng = random.Random(40)
    smokers = frame[frame.smoker == "yes"].index.tolist()
    others = frame[frame.smoker == "no"].index.tolist()
    stream = rng.sample(smokers, 80) + rng.sample(others, 120)
    rng.shuffle(stream)
    drift = window_drift(reference, frame.loc[stream])
    assert drift["smoker"].flagged
    assert drift["smoker"].status == "drift"
    assert [name for name, item in drift.items() if item.flagged] == ["smoker"]
