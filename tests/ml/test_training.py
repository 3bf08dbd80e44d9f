"""ml.training: a retrain from the data file (through manage.py train_model, into a temporary folder).

It meets the model's targets (holdout R² >= 0.89 and MAE <= $2,000 at once, 90% interval
coverage 87-93%), so a change that breaks training or drops below them cannot ship; and it
reproduces the committed model, within what differs between CPUs.
"""

import pytest

from predictor.ml import artifacts, predict
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
# Compared; anything not named above must be equal: the estimator, the interval groups' n and
# level, the holdout's row count, the training ranges, the features, the setup, the drift reference.
COMPARED = (
    "estimator", "estimator_class", "setup", "features", "model_features", "training_ranges",
    "cv", "holdout", "candidates_cv", "interval", "drift_reference",
)


def allowed_difference(path: str, committed: float) -> float:
    """How far a retrained figure may be from the committed one (0: equal)."""
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


@pytest.mark.slow
def test_several_data_files_train_on_all_their_rows_in_order(tmp_path, insurance_csv, retrained):
    """The data file cut in two and given as two --data files: the same rows, so the same model as from the one file."""
    import json
    from io import StringIO

    from django.core.management import call_command

    header, *rows = insurance_csv.read_text().splitlines(keepends=True)
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text(header + "".join(rows[:700]))
    second.write_text(header + "".join(rows[700:]))
    call_command(
        "train_model", "--data", str(first), "--data", str(second), "--output-dir", str(tmp_path), "--name", "two-files",
        stdout=StringIO(), stderr=StringIO(),
    )
    card = json.loads((tmp_path / "two-files.json").read_text())
    assert card["data"]["rows"] == 1338
    assert card["data"]["file"] == "first.csv, second.csv"
    assert card["data"]["files"] == [
        {"file": "first.csv", "sha256": artifacts.file_sha256(first), "rows": 700},
        {"file": "second.csv", "sha256": artifacts.file_sha256(second), "rows": 638},
    ]
    assert card_differences(card, retrained[0]) == []
    assert card["estimator"] == retrained[0]["estimator"]


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
        ("drift_reference.rows", 1339),
    ],
)
def test_the_comparison_fails_what_a_change_to_training_changes(loaded_model, path, value):
    card = loaded_model.card
    [problem] = card_differences(changed(card, path, value), card)
    assert problem.startswith(path.split(".")[0])
