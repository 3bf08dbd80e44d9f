"""ml.training: a retrain from the data file (through manage.py train_model, into a temporary folder).

It meets the model's targets (holdout R² >= 0.89 and MAE <= $2,000 at once, 90% interval
coverage 87-93%) and the forecast's calibration bands over repeated 70/30 splits (issue 10), so a
change that breaks training or drops below them cannot ship; and it reproduces the committed model
and its forecasts, within what differs between CPUs.
"""

import pytest

import numpy as np

from predictor.ml import artifacts, calibration, predict, training
from predictor.ml.forecast import PredictiveDistribution
from tests import golden

# What retraining may change on another CPU. OpenBLAS picks its kernels per CPU, and they sum in
# different orders, so the Huber fits of cross-validation and of the holdout converge a little
# differently. Measured by retraining with each OPENBLAS_CORETYPE on one machine: Haswell,
# SkylakeX, Cooperlake and Zen reproduce the card exactly; Prescott and Core2 (OpenBLAS's
# fallback for a CPU it does not know: the AVX-512 machine that got CV MAE $1,798.03 and RMSE
# $4,584.54 for the card's $1,798.06 and $4,584.55 gets exactly these) move figures by 0.003%;
# Sandybridge and Nehalem (CPUs without AVX2, or x86 emulation) by up to 0.1% in CV and 0.35%
# in the holdout MAE.
#
# Figures (CV, candidates' CV, holdout R², MAE, RMSE), relative: 0.5%. Another real choice moves
# them more: the neighbouring blends' CV MAE differs by 6%, and the estimator is compared exactly.
FIGURE_TOLERANCE = 0.005
# The interval's offsets come from a narrowest-window search over sorted residuals, which jumps
# to a neighbouring window when the residuals move by cents: measured $11 (Prescott, the AVX-512
# machine's kernels) and up to $126 (Nehalem; smoker_not_obese, 85 rows). Offsets and the
# holdout's mean interval width: within 0.1% or $150, whichever is larger.
OFFSET_TOLERANCE_RELATIVE = 0.001
OFFSET_TOLERANCE_DOLLARS = 150.0
# The holdout coverage those offsets give: measured up to 0.0075 (3 of 402 rows) overall and
# 0.067 (3 of 45 rows) in the smallest group.
COVERAGE_TOLERANCE = 0.01
GROUP_COVERAGE_TOLERANCE = 0.1
# The forecast's calibration over repeated splits (averages over 20 x 200 cohorts, and over 20 holdouts
# of 402 patients): measured within 0.0033 of coverage and 0.0001 of the mean error with Prescott and
# Nehalem kernels; a single repetition's minimum or maximum moved by 0.06 (2 of 33 patients).
CALIBRATION_COVERAGE_TOLERANCE = 0.01
CALIBRATION_ERROR_TOLERANCE = 0.002
CALIBRATION_EXTREME_TOLERANCE = 0.1
# The out-of-fold residuals kept as the predictive distribution: measured up to $82 (Nehalem).
RESIDUAL_TOLERANCE_DOLLARS = 150.0
# Each bootstrap resample's mean residual moves with them: measured up to $10.
MEAN_DEVIATION_TOLERANCE_DOLLARS = 25.0
# The fairness figures (card "fairness"): out-of-fold answers of refits, summed over 8,040 rows; a refit's
# round-off (up to ~$150 on a few rows, see calibration.REFIT_TOLERANCE) moves a group's MAE by cents to dollars.
FAIRNESS_RELATIVE_TOLERANCE = 0.01
FAIRNESS_DOLLAR_TOLERANCE = 5.0
FAIRNESS_RATIO_TOLERANCE = 0.01
# The bootstrap refits' coefficients move more (the Huber fits stop at different points of a flat
# objective), so they are compared through what they do: the forecast of fixed cohorts of 1 to
# 100,000 patients, whose ranges moved by up to 0.084 standard deviations of the total (Prescott, the
# 100,000 patients, where the model error dominates) and whose expected totals by 0.003.
FORECAST_RANGE_TOLERANCE_SD = 0.15
FORECAST_MEAN_TOLERANCE_SD = 0.01

# Compared; anything not named above must be equal: the estimator, the interval groups' n and
# level, the holdout's row count, the training ranges, the features, the setup, the drift reference.
# The distribution's coefficients and its bootstrap refits are compared by what they answer (tests below).
COMPARED = (
    "estimator", "estimator_class", "setup", "features", "model_features", "training_ranges",
    "cv", "holdout", "candidates_cv", "interval", "drift_reference", "cohort_calibration", "interval_calibration",
    "distribution", "fairness",
)
NOT_COMPARED = ("distribution.coef", "distribution.model_error.coef_deviations", "fairness.seconds")


def allowed_difference(path: str, committed: float) -> float:
    """How far a retrained figure may be from the committed one (0: equal)."""
    if path.startswith("fairness."):  # refits on 20 splits: their round-off moves the figures a little
        if any(name in path for name in ("calibration", "coverage", "auc")):
            return FAIRNESS_RATIO_TOLERANCE
        return max(FAIRNESS_RELATIVE_TOLERANCE * abs(committed), FAIRNESS_DOLLAR_TOLERANCE)
    if path.startswith("cohort_calibration."):
        name = path.split(".")[2].split("[")[0]
        if name in {"coverage_90_range"}:
            return CALIBRATION_EXTREME_TOLERANCE
        if name.startswith("coverage_") or name == "naive_interval_coverage":
            return CALIBRATION_COVERAGE_TOLERANCE
        if name == "mean_total_error":
            return CALIBRATION_ERROR_TOLERANCE
        if name == "refit_roundoff":
            return calibration.REFIT_TOLERANCE
        if name == "mean_width_90":
            return 0.01 * abs(committed)
        if name == "mean_naive_interval_width":  # the interval's offsets, compared above, make it
            return 0.05 * abs(committed)
        return 0.01  # the actual totals: no fitting, so equal but for summation order
    if path.startswith("interval_calibration."):
        if path.endswith((".min", ".max")):
            return CALIBRATION_EXTREME_TOLERANCE
        if path.endswith(".coverage"):
            return CALIBRATION_COVERAGE_TOLERANCE
        return 0.0
    if path.startswith("distribution.residuals."):
        return RESIDUAL_TOLERANCE_DOLLARS
    if path.startswith("distribution.model_error.mean_deviations."):
        return MEAN_DEVIATION_TOLERANCE_DOLLARS
    if path == "distribution.model_error.refit_roundoff":
        return calibration.REFIT_TOLERANCE
    if (path.startswith("interval.groups.") and path.endswith((".low", ".high"))) or path == "holdout.mean_interval_width":
        return max(OFFSET_TOLERANCE_RELATIVE * abs(committed), OFFSET_TOLERANCE_DOLLARS)
    if path == "holdout.interval_coverage":
        return COVERAGE_TOLERANCE
    if path.startswith("holdout.coverage_by_group."):
        return GROUP_COVERAGE_TOLERANCE
    if path.startswith(("cv.", "candidates_cv.")) or path in {"holdout.r2", "holdout.mae", "holdout.rmse"}:
        return FIGURE_TOLERANCE * abs(committed)
    return 0.0


def card_differences(retrained: dict, committed: dict) -> list[str]:
    """Every part of the committed card the retrained one does not reproduce, by path."""
    problems: list[str] = []

    def compare(path: str, new, old) -> None:
        if path in NOT_COMPARED:
            return
        if isinstance(old, dict) and isinstance(new, dict):
            if set(new) != set(old):
                problems.append(f"{path}: keys {sorted(new)}, committed {sorted(old)}")
                return
            for key in old:
                compare(f"{path}.{key}", new[key], old[key])
        elif isinstance(old, list) and isinstance(new, list) and len(new) == len(old):
            for index, (new_item, old_item) in enumerate(zip(new, old)):
                compare(f"{path}[{index}]", new_item, old_item)
        elif all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (new, old)):
            allowed = allowed_difference(path, old)
            if abs(new - old) > allowed:
                problems.append(f"{path}: {new}, committed {old} (allowed ±{allowed:g})")
        elif new != old:
            problems.append(f"{path}: {new!r}, committed {old!r}")

    for key in COMPARED:
        compare(key, retrained.get(key), committed.get(key))
    return problems


@pytest.mark.slow
def test_retrained_model_meets_the_holdout_targets(retrained):
    card, _, _ = retrained
    holdout = card["holdout"]
    assert holdout["r2"] >= 0.89
    assert holdout["mae"] <= 2000
    assert 0.87 <= holdout["interval_coverage"] <= 0.93
    assert holdout["rows"] == 402


@pytest.mark.slow
def test_retraining_reproduces_the_committed_model(retrained, loaded_model):
    card, artifact, _ = retrained
    assert card_differences(card, loaded_model.card) == []
    # The refit on all the data answers as the committed artifact does, to the cent: measured
    # within $0.005 of the golden table with every OpenBLAS kernel above.
    model = artifacts.load_model_artifact(artifact)
    for patient, charge, want in zip(
        golden.inputs(), predict.predict_charges(golden.inputs(), model=model), golden.answers(loaded_model.name), strict=True
    ):
        assert charge == pytest.approx(float(want.charges), abs=golden.TOLERANCE), patient


@pytest.mark.slow
def test_retrained_forecast_is_calibrated_on_repeated_splits(retrained):
    card, _, _ = retrained
    assert_calibrated(card)


def assert_calibrated(card: dict) -> None:
    """The bands of issue 10: for cohorts of 25 and of 100, over at least 20 random 70/30 splits, the 90%
    range held 87-93% of actual totals, the 50% range 45-55%, and the expected total's mean error stays
    within 2% of the mean actual total; each group's 90% interval held 87-93% of single patients."""
    problems = []
    for size in ("25", "100"):
        figures = card["cohort_calibration"][size]
        if figures["repetitions"] < 20:
            problems.append(f"cohorts of {size}: {figures['repetitions']} repetitions")
        if not 0.87 <= figures["coverage_90"] <= 0.93:
            problems.append(f"cohorts of {size}: 90% range held {figures['coverage_90']}")
        if not 0.45 <= figures["coverage_50"] <= 0.55:
            problems.append(f"cohorts of {size}: 50% range held {figures['coverage_50']}")
        if not -0.02 <= figures["mean_total_error"] <= 0.02:
            problems.append(f"cohorts of {size}: mean error {figures['mean_total_error']}")
    for group, figures in card["interval_calibration"]["groups"].items():
        if not 0.87 <= figures["coverage"] <= 0.93:
            problems.append(f"{group}: single-patient coverage {figures['coverage']}")
    if card["interval_calibration"]["repetitions"] < 20:
        problems.append("interval calibration: fewer than 20 repetitions")
    assert problems == []


def test_the_committed_forecast_is_calibrated_on_repeated_splits(loaded_model):
    assert_calibrated(loaded_model.card)


@pytest.mark.slow
def test_retraining_reproduces_the_committed_forecasts(retrained, loaded_model, insurance_csv):
    import pandas as pd

    card, artifact, _ = retrained
    data = pd.read_csv(insurance_csv)
    features = data[["age", "sex", "bmi", "children", "smoker", "region"]]
    # The estimate on the basis answers as the retrained pipeline does, to a millionth of a dollar.
    model = artifacts.load_model_artifact(artifact)
    basis = calibration.basis_of(features)
    assert np.abs(basis @ np.array(card["distribution"]["coef"]) - model.pipeline.predict(features)).max() < 1e-6
    # The forecasts of fixed cohorts, model error included, agree with the committed card's.
    new, old = PredictiveDistribution.from_card(card), PredictiveDistribution.from_card(loaded_model.card)
    groups = calibration.groups_of(features)
    rng = np.random.default_rng(0)
    for rows in [rng.choice(len(data), n, replace=False) for n in (1, 10, 100, 1338)] + [np.repeat(np.arange(len(data)), 75)]:
        sums = basis[rows].sum(axis=0)
        counts = {group: int((groups[rows] == group).sum()) for group in old.residuals}
        then, now = old.summary(sums, counts), new.summary(sums, counts)
        sd = np.sqrt(then.distribution.variance())
        assert abs(now.expected_total - then.expected_total) <= FORECAST_MEAN_TOLERANCE_SD * sd, len(rows)
        for level in ("50", "80", "90"):
            assert np.abs(np.subtract(now.ranges[level], then.ranges[level])).max() <= FORECAST_RANGE_TOLERANCE_SD * sd


@pytest.mark.slow
def test_the_card_records_data_versions_and_a_verified_artifact(retrained, insurance_csv, valid_inputs):
    card, artifact, _ = retrained
    assert card["name"] == "retrain-test"
    assert card["data"] == {"file": insurance_csv.name, "sha256": artifacts.file_sha256(insurance_csv), "rows": 1338}
    assert set(card["versions"]) >= {"python", "pycaret", "scikit-learn", "pandas", "numpy"}
    assert card["training_ranges"] == {"age": [18, 64], "bmi": [15.96, 53.13], "children": [0, 5]}
    assert set(card["cv"]) == {"r2", "mae", "rmse"}

    model = artifacts.load_model_artifact(artifact)  # hash verified against the new card
    [(charge, low, high)] = predict.predict_charges_with_interval([valid_inputs], model=model)
    assert low < charge < high and charge > 10_000


def test_several_data_files_train_on_all_their_rows_in_order(tmp_path, insurance_csv):
    """The data file cut in two and given as two --data files: the command takes both, in order; training reads
    the same rows as from the one file (everything after data_read sees only that frame, so the model is the
    same: one retrain per run is enough, the `retrained` fixture's); the card records each file."""
    from predictor.management.commands.train_model import Command

    header, *rows = insurance_csv.read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(header + "".join(rows[:700]))
    second.write_text(header + "".join(rows[700:]))
    options = Command().create_parser("manage.py", "train_model").parse_args(
        ["--data", str(first), "--data", str(second), "--name", "two-files"]
    )
    assert options.data == [first, second]

    both, whole = training.data_read(options.data), training.data_read([insurance_csv])
    assert both.equals(whole) and list(both.index) == list(range(1338))
    card = training._data_card(options.data, both)
    assert card["rows"] == 1338
    assert card["file"] == "first.csv, second.csv"
    assert card["files"] == [
        {"file": "first.csv", "sha256": artifacts.file_sha256(first), "rows": 700},
        {"file": "second.csv", "sha256": artifacts.file_sha256(second), "rows": 638},
    ]


# ---------------------------------------------------------------------------
# The comparison itself, on the committed card: it passes what CPUs change and fails what training changes.


def changed(card: dict, path: str, value) -> dict:
    import copy

    card = copy.deepcopy(card)
    *parents, last = path.split(".")
    node = card
    for key in parents:
        node = node[key]
    node[last] = value
    return card


def test_the_comparison_passes_what_another_cpu_changes(loaded_model):
    card = loaded_model.card
    # The AVX-512 machine's figures (OpenBLAS's Prescott kernels) and its interval.
    other_cpu = changed(card, "cv.mae", 1798.03)
    other_cpu = changed(other_cpu, "cv.rmse", 4584.54)
    other_cpu = changed(other_cpu, "interval.groups.smoker_not_obese.high", 205.0)
    other_cpu = changed(other_cpu, "interval.groups.smoker_obese.high", 224.0)
    # Prescott's kernels' calibration and distribution.
    other_cpu = changed(other_cpu, "cohort_calibration.25.coverage_90", 0.9065)
    other_cpu = changed(other_cpu, "cohort_calibration.100.mean_naive_interval_width", 375711.69)
    other_cpu = changed(other_cpu, "interval_calibration.groups.non_smoker_not_obese.min", 0.8819)
    residuals = list(card["distribution"]["residuals"]["smoker_not_obese"])
    residuals[0] += 11.54
    other_cpu = changed(other_cpu, "distribution.residuals.smoker_not_obese", residuals)
    other_cpu = changed(other_cpu, "distribution.model_error.refit_roundoff", 93.23)
    assert card_differences(other_cpu, card) == []


@pytest.mark.parametrize(
    "path,value",
    [
        ("estimator", "blend_lr0.3_huber0.7"),
        ("cv.mae", 1798.06 * 1.006),
        ("holdout.r2", 0.8917 * 0.994),
        ("interval.groups.smoker_obese.n", 101),
        ("interval.groups.non_smoker_obese.high", 7893.0 + 151),
        ("holdout.interval_coverage", 0.8881 - 0.011),
        ("interval.alpha", 0.2),
        ("training_ranges.age", [18.0, 65.0]),
        ("model_features", ["age", "sex", "bmi", "children", "smoker", "region"]),
        ("cohort_calibration.100.coverage_90", 0.9137 + 0.011),
        ("cohort_calibration.25.mean_total_error", 0.0128 - 0.0021),
        ("cohort_calibration.25.repetitions", 21),
        ("interval_calibration.groups.smoker_obese.coverage", 0.8996 - 0.011),
        ("distribution.basis", ["count"]),
        ("distribution.model_error.refits", 50),
        ("drift_reference.rows", 1339),
    ],
)
def test_the_comparison_fails_what_a_change_to_training_changes(loaded_model, path, value):
    card = loaded_model.card
    [problem] = card_differences(changed(card, path, value), card)
    assert problem.startswith(path.split(".")[0])
