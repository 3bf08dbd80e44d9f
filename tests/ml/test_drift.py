"""ml.drift: PSI, the drift reference and the size-aware threshold, worked by hand and checked by resampling the training data."""

import math
import random

import numpy as np
import pandas as pd
import pytest

from predictor.ml import artifacts
from predictor.ml import drift as drift_stats

TOLERANCE = 1e-9


# ---------------------------------------------------------------------------
# Drift: PSI worked by hand


def test_psi_worked_by_hand():
    # shares 0.5/0.3/0.2 against 0.4/0.3/0.3:
    # (0.4-0.5)·ln(0.4/0.5) + 0 + (0.3-0.2)·ln(0.3/0.2) = 0.1·ln(1.25) + 0.1·ln(1.5) = 0.0628609
    assert drift_stats.psi([50, 30, 20], [40, 30, 30]) == pytest.approx(0.1 * math.log(1.25) + 0.1 * math.log(1.5), rel=TOLERANCE)
    assert drift_stats.psi([50, 30, 20], [40, 30, 30]) == pytest.approx(0.0628609, abs=1e-7)
    # Identical shares: 0, whatever the counts.
    assert drift_stats.psi([50, 30, 20], [5, 3, 2]) == 0.0
    # An empty bin counts as a share of 0.0001: (1-0.5)·ln(1/0.5) + (0.0001-0.5)·ln(0.0001/0.5)
    assert drift_stats.psi([50, 50], [100, 0]) == pytest.approx(0.5 * math.log(2) + 0.4999 * math.log(5000), rel=TOLERANCE)


# Ten training ages; their deciles (inverse empirical distribution) are 20,20,30,30,40,40,50,50,60,
# so the edges above the minimum are 30, 40, 50, 60 and each of the five bins holds 2 rows (0.2).
TRAINING_AGES = [20, 20, 30, 30, 40, 40, 50, 50, 60, 60]
# A window: <30: 25 | [30,40): 30, 35 | [40,50): 40, 45, 45 | [50,60): 55 | >=60: 60, 65, 65
# (an age equal to an edge counts in the bin above it), so 0.1, 0.2, 0.3, 0.1, 0.3 and
# PSI = 2·(0.1-0.2)·ln(0.1/0.2) + 2·(0.3-0.2)·ln(0.3/0.2) = 0.2·ln 2 + 0.2·ln 1.5 = 0.2·ln 3.
WINDOW_AGES = [25, 30, 35, 40, 45, 45, 55, 60, 65, 65]
WINDOW_AGES_PSI = 0.2 * math.log(3)


def test_numeric_inputs_are_binned_on_the_training_deciles_worked_by_hand():
    edges = drift_stats.numeric_bin_edges(TRAINING_AGES)
    assert edges == [30.0, 40.0, 50.0, 60.0]
    spec = {"kind": "numeric", "edges": edges}
    assert drift_stats.bin_counts(TRAINING_AGES, spec) == [2, 2, 2, 2, 2]
    assert drift_stats.bin_counts(WINDOW_AGES, spec) == [1, 2, 3, 1, 3]
    assert drift_stats.numeric_bin_labels(edges) == ["< 30", "30 to < 40", "40 to < 50", "50 to < 60", "≥ 60"]
    drift = drift_stats.input_drift("age", {**spec, "counts": [2, 2, 2, 2, 2]}, [1, 2, 3, 1, 3])
    assert drift.psi == pytest.approx(WINDOW_AGES_PSI, rel=TOLERANCE)
    assert drift.bins[2] == ("40 to < 50", 0.2, 0.3)


def test_categorical_inputs_are_binned_by_category():
    frame = pd.DataFrame(
        {
            "age": TRAINING_AGES, "sex": ["female", "male"] * 5, "bmi": [float(a) for a in TRAINING_AGES],
            "children": [0, 1] * 5, "smoker": ["yes", "no", "no", "no", "no"] * 2, "region": ["northeast"] * 10,
        }
    )
    reference = drift_stats.drift_reference(frame)
    assert reference["rows"] == 10
    assert reference["inputs"]["smoker"] == {"kind": "categorical", "categories": ["no", "yes"], "counts": [8, 2]}
    assert reference["inputs"]["age"] == {"kind": "numeric", "edges": [30.0, 40.0, 50.0, 60.0], "counts": [2, 2, 2, 2, 2]}
    # children 0,1,0,1...: the deciles are 0 and 1, and only 1 is above the minimum.
    assert reference["inputs"]["children"] == {"kind": "numeric", "edges": [1.0], "counts": [5, 5]}
    # smoker 2 of 10 in training, 4 of 10 in the window:
    # (0.6-0.8)·ln(0.6/0.8) + (0.4-0.2)·ln(0.4/0.2) = 0.2·ln(4/3) + 0.2·ln 2
    drift = drift_stats.input_drift("smoker", reference["inputs"]["smoker"], [6, 4])
    assert drift.psi == pytest.approx(0.2 * math.log(4 / 3) + 0.2 * math.log(2), rel=TOLERANCE)
    assert len(reference["fingerprints"]["values"]) == 10


def test_fingerprints_name_the_six_inputs_with_bmi_to_three_decimals():
    patient = {"age": 19, "sex": "female", "bmi": 27.9, "children": 0, "smoker": "yes", "region": "southwest"}
    import hashlib

    assert drift_stats.input_fingerprint(patient) == hashlib.md5(b"19|female|27900|0|yes|southwest").hexdigest()[:16]
    assert drift_stats.input_fingerprint({**patient, "bmi": 27.901}) != drift_stats.input_fingerprint(patient)
    assert drift_stats.input_fingerprint({**patient, "bmi": 27.9004}) == drift_stats.input_fingerprint(patient)


# ---------------------------------------------------------------------------
# Drift: the status and the size-aware threshold


def test_a_drift_flag_needs_both_more_than_chance_and_the_conventional_0_1():
    assert drift_stats.drift_status(0.30, threshold=0.05) == "drift"
    assert drift_stats.drift_status(0.12, threshold=0.05) == "drift"
    assert drift_stats.drift_status(0.05, threshold=0.01) == "ok"  # more than chance at a large window, but small
    assert drift_stats.drift_status(0.40, threshold=1.70) == "watch"  # large, but a tiny window shows that by chance
    assert drift_stats.drift_status(0.02, threshold=0.05) == "ok"
    assert [drift_stats.psi_band(value) for value in (0.0, 0.099, 0.1, 0.249, 0.25)] == ["ok", "ok", "watch", "watch", "drift"]


@pytest.fixture(scope="module")
def training(insurance_csv):
    frame = pd.read_csv(insurance_csv)
    return frame, drift_stats.drift_reference(frame)


def window_drift(reference, window: pd.DataFrame) -> dict[str, drift_stats.InputDrift]:
    result = {}
    for name, spec in reference["inputs"].items():
        values = window[name].astype(str).tolist() if spec["kind"] == "categorical" else window[name]
        result[name] = drift_stats.input_drift(name, spec, drift_stats.bin_counts(values, spec))
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
    assert len(reference["fingerprints"]["values"]) == len(frame.drop_duplicates(list(drift_stats.DRIFT_INPUTS))) == 1335


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
            drift_stats.psi(spec["counts"], drift_stats.bin_counts(list(rng.choice(values, n)), spec)) for _ in range(2000)
        ]
        assert drift_stats.psi_threshold(spec["counts"], n, name=name) == pytest.approx(np.quantile(resampled, 0.99), rel=0.15), name


def test_the_threshold_shrinks_with_the_window_and_is_the_same_every_time(training):
    _, reference = training
    counts = reference["inputs"]["age"]["counts"]
    thresholds = [drift_stats.psi_threshold(counts, n, name="age") for n in (30, 200, 1000, 10_000)]
    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[0] > 1.0 > 0.1 > thresholds[-1]
    assert drift_stats.psi_threshold(counts, 200, name="age") == thresholds[1]


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
