"""The fairness maths (predictor/ml/fairness.py) against independent oracles: fairlearn's MetricFrame for the
figures by group, scikit-learn's roc_auc_score for the AUC, hand-worked fixtures for the bootstrap's strata,
and enumeration over sex for the discrimination-free estimate; and the variants' pipelines (ml/fairness_fit.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame
from sklearn.metrics import mean_absolute_error, roc_auc_score

from predictor.features import FEATURES
from predictor.ml import fairness, fairness_fit


def _bias(actual, estimate):
    return float(np.mean(np.asarray(actual) - np.asarray(estimate)))


def _calibration(actual, estimate):
    return float(np.sum(estimate) / np.sum(actual))


@pytest.fixture(scope="module")
def patients():
    """400 synthetic patients with estimates, intervals and actual charges (seeded)."""
    rng = np.random.default_rng(7)
    n = 400
    frame = pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "sex": rng.choice(["female", "male"], n),
        "smoker": rng.choice(["yes", "no"], n, p=[0.2, 0.8]),
        "region": rng.choice(["northeast", "northwest", "southeast", "southwest"], n),
    })
    frame["estimate"] = rng.gamma(2.0, 6000.0, n).round(2)
    frame["actual"] = (frame["estimate"] * rng.lognormal(0, 0.3, n)).round(2)
    frame["low"] = (frame["estimate"] - 2000).clip(lower=0)
    frame["high"] = frame["estimate"] + 4000
    return frame


def test_the_figures_by_group_agree_with_metricframe_to_the_cent(patients):
    figures = fairness.group_figures(
        actual=patients["actual"], estimate=patients["estimate"], low=patients["low"], high=patients["high"],
        groups=fairness.group_labels(patients), repetitions=200,
    )
    inside = ((patients["actual"] >= patients["low"]) & (patients["actual"] <= patients["high"])).astype(float)
    labels = fairness.group_labels(patients)
    checked = 0
    for dimension, sensitive in labels.items():
        frame = MetricFrame(
            metrics={"mae": mean_absolute_error, "bias": _bias, "calibration": _calibration},
            y_true=patients["actual"], y_pred=patients["estimate"], sensitive_features=pd.Series(sensitive, name=dimension),
        )
        coverage = MetricFrame(metrics=lambda flags, _: float(np.mean(flags)), y_true=inside, y_pred=inside,
                               sensitive_features=pd.Series(sensitive, name=dimension))
        counts = MetricFrame(metrics=lambda y, _: len(y), y_true=inside, y_pred=inside,
                             sensitive_features=pd.Series(sensitive, name=dimension))
        for row in (row for row in figures["groups"] if row["dimension"] == dimension):
            assert row["n"] == counts.by_group.loc[row["group"]]
            assert row["mae"]["value"] == pytest.approx(frame.by_group.loc[row["group"], "mae"], abs=0.005)
            assert row["bias"]["value"] == pytest.approx(frame.by_group.loc[row["group"], "bias"], abs=0.005)
            assert row["calibration"]["value"] == pytest.approx(frame.by_group.loc[row["group"], "calibration"], abs=5e-5)
            assert row["coverage"]["value"] == pytest.approx(coverage.by_group.loc[row["group"]], abs=5e-5)
            checked += 1
    assert checked == 2 + 5 + 4 + 2 + 4


def test_groups_under_thirty_rows_show_their_n_and_no_interval(patients):
    small = patients.iloc[:40]
    figures = fairness.group_figures(actual=small["actual"], estimate=small["estimate"],
                                     groups={"smoker": fairness.group_labels(small)["smoker"]}, repetitions=50)
    by_group = {row["group"]: row for row in figures["groups"]}
    smokers = int((small["smoker"] == "yes").sum())
    assert by_group["smoker"]["n"] == smokers < fairness.MIN_ROWS
    assert by_group["smoker"]["mae"]["value"] is not None
    assert by_group["smoker"]["mae"]["low"] is None and by_group["smoker"]["mae"]["high"] is None
    # Without intervals in the rows, coverage is there, empty.
    assert by_group["smoker"]["coverage"] == {"value": None, "low": None, "high": None}
    assert figures["gaps"] == []  # one group of 30 rows or more: no gap to give


def test_the_bootstrap_draws_each_stratum_from_itself_only():
    strata = np.array(["a", "b", "a", "b", "b", "c"])
    draws = fairness.stratified_resamples(strata, repetitions=500, rng=np.random.default_rng(1))
    assert set(draws) == {"a", "b", "c"}
    assert draws["a"].shape == (500, 2) and set(np.unique(draws["a"])) == {0, 2}
    assert draws["b"].shape == (500, 3) and set(np.unique(draws["b"])) == {1, 3, 4}
    assert draws["c"].shape == (500, 1) and set(np.unique(draws["c"])) == {5}


def test_a_group_of_equal_errors_has_a_zero_width_interval_and_the_gap_is_exact():
    # Hand-worked: every row of group a is under-estimated by $100, every row of b over-estimated by $50.
    # Resampling within each group can only give MAE 100 and 50, bias +100 and -50; a bootstrap that mixed
    # the groups would not.
    groups = np.array(["a"] * 40 + ["b"] * 60)
    actual = np.full(100, 1000.0)
    estimate = np.where(groups == "a", 900.0, 1050.0)
    figures = fairness.group_figures(actual=actual, estimate=estimate, groups={"g": groups}, repetitions=300)
    a, b = figures["groups"]
    assert a["mae"] == {"value": 100.0, "low": 100.0, "high": 100.0}
    assert b["bias"] == {"value": -50.0, "low": -50.0, "high": -50.0}
    mae_gap = next(gap for gap in figures["gaps"] if gap["metric"] == "mae")
    assert (mae_gap["highest"], mae_gap["lowest"], mae_gap["value"], mae_gap["low"], mae_gap["high"]) == ("a", "b", 50.0, 50.0, 50.0)


def test_the_bootstrap_resamples_whole_patients_within_their_group():
    # Hand-worked: patient 1 has two rows (errors 0 and 200), patient 2 one row (error 300), 30 more
    # patients of 0 error keep the group over MIN_ROWS. Resampling patients keeps a patient's rows together.
    actual = np.array([1000.0, 1000.0, 1000.0] + [500.0] * 30)
    estimate = np.array([1000.0, 800.0, 700.0] + [500.0] * 30)
    clusters = np.array([1, 1, 2] + list(range(3, 33)))
    figures = fairness.group_figures(actual=actual, estimate=estimate, groups={"g": np.array(["x"] * 33)},
                                     clusters=clusters, repetitions=2000)
    row = figures["groups"][0]
    assert (row["n"], row["patients"]) == (33, 32)
    assert row["mae"]["value"] == pytest.approx(500 / 33, abs=0.005)
    # The replicates: the sum of |error| over the drawn patients' rows / their row count. Drawing all 32
    # patients as patient 1 gives the most rows with error 200 on half of them: MAE 100 at most.
    assert 0 <= row["mae"]["low"] <= row["mae"]["value"] <= row["mae"]["high"] <= 100


def test_auc_is_scikit_learns_with_ties():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(labels * 0.3, 1.0), 1)  # rounded: many ties
    assert fairness.auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    with pytest.raises(ValueError, match="both labels"):
        fairness.auc(np.ones(5), np.arange(5))


def test_the_discrimination_free_estimate_is_the_model_averaged_over_sex(loaded_model, insurance_csv):
    data = pd.read_csv(insurance_csv).head(200)
    shares = fairness.population_shares(pd.read_csv(insurance_csv)["sex"])
    assert sum(shares.values()) == pytest.approx(1.0) and set(shares) == {"female", "male"}
    got = fairness.discrimination_free(loaded_model.pipeline.predict, data[list(FEATURES)], shares=shares)
    for index, row in enumerate(data[list(FEATURES)].to_dict("records")):
        # Enumeration: one prediction per sex (the one-row fast path, tested equal to the pipeline), weighted by its share.
        want = sum(share * loaded_model.fast.predict_one({**row, "sex": sex}) for sex, share in shares.items())
        assert got[index] == pytest.approx(want, abs=1e-6)


def test_the_paired_difference_is_the_mean_change_in_absolute_error():
    actual = np.array([100.0, 200.0, 300.0, 400.0] * 10)
    served = actual + np.array([10.0, -10.0, 0.0, 5.0] * 10)
    variant = actual + np.array([20.0, -5.0, 30.0, 5.0] * 10)
    # By hand: |variant error| - |served error| = 10, -5, 30, 0; mean 8.75.
    difference = fairness.paired_difference(actual=actual, served=served, variant=variant, repetitions=500)
    assert difference["mean"] == 8.75
    assert difference["low"] < 8.75 < difference["high"]
    figures = fairness.variant_figures(actual=actual, served=served, variant=variant, sex=np.array(["female", "male"] * 20))
    assert figures["bias_by_sex"] == pytest.approx({"female": -25.0, "male": 0.0})  # actual - variant: -20, -30; 5, -5
    assert figures["mae"] == 15.0


def test_the_age_bands_are_the_forecasts():
    assert list(fairness.age_band([18, 29, 30, 49, 50, 64, 65, 100])) == [
        "18-29", "18-29", "30-39", "40-49", "50-64", "50-64", "65+", "65+"
    ]


@pytest.mark.parametrize(("variant", "ignored"), [("unaware", {"sex"}), ("rating_factors", {"sex", "bmi"})])
def test_a_variant_pipeline_ignores_what_it_drops(loaded_model, insurance_csv, variant, ignored):
    from sklearn.base import clone

    data = pd.read_csv(insurance_csv)
    template = clone(loaded_model.pipeline)
    estimator = template.steps.pop()[1]
    fitted = fairness_fit.pipeline_without(template, fairness_fit.VARIANT_DROPS[variant])
    fitted.steps.append(("actual_estimator", estimator))
    fitted.fit(data[list(FEATURES)], data["charges"])
    rows = data[list(FEATURES)].head(20)
    changed = rows.assign(sex=rows["sex"].map({"female": "male", "male": "female"}), bmi=rows["bmi"] + 7.5)
    same = np.allclose(fitted.predict(rows), fitted.predict(changed), atol=1e-6)
    assert same == ("bmi" in ignored)  # the unaware variant still uses bmi
    assert np.allclose(fitted.predict(rows), fitted.predict(rows.assign(sex="male")), atol=1e-6)


def test_the_default_cards_fairness_has_the_groups_the_variants_and_the_leakage(loaded_model):
    card = loaded_model.card["fairness"]
    assert card["rows"]["kind"] == "out-of-fold" and card["rows"]["repetitions"] == 20
    assert card["rows"]["count"] == 20 * 402
    for dimension in fairness.DIMENSIONS:
        rows = [row for row in card["groups"] if row["dimension"] == dimension]
        assert sum(row["n"] for row in rows) == card["rows"]["count"], dimension
        assert sum(row["patients"] for row in rows) == card["rows"]["patients"], dimension
    for name in ("unaware", "discrimination_free", "rating_factors"):
        variant = card["variants"][name]
        assert set(variant) >= {"mae", "bias_by_sex", "difference", "calibration_by_sex"}
        assert set(variant["difference"]) == {"mean", "low", "high"}
        assert variant["difference"]["low"] <= variant["difference"]["mean"] <= variant["difference"]["high"]
    assert 0.4 < card["leakage"]["auc"] < 0.6  # sex barely leaks through the other inputs of this data
    assert set(card["leakage"]["mean_abs_gap"]) == {"overall", "by_sex"}
    # Dropping BMI (the ACA's rating factors) costs far more than dropping sex.
    assert card["variants"]["rating_factors"]["difference"]["low"] > card["variants"]["unaware"]["difference"]["high"]


def test_the_unaware_version_loads_by_name_and_its_answers_ignore_sex(insurance_csv):
    from predictor.ml import artifacts, predict

    model = artifacts.get_model("huber-blend-v2-unaware")
    assert model.card["dropped_inputs"] == ["sex"] and "fairness" in model.card and "interval" in model.card
    rows = pd.read_csv(insurance_csv)[list(FEATURES)].head(100).to_dict("records")
    flipped = [{**row, "sex": "male" if row["sex"] == "female" else "female"} for row in rows]
    assert predict.predict_charges_pipeline(rows, model) == predict.predict_charges_pipeline(flipped, model)
    assert model.fast is not None  # the slim image's one-row path handles the step exactly
    for row, want in zip(rows[:20], predict.predict_charges_pipeline(rows[:20], model)):
        assert model.fast.predict_one(row) == pytest.approx(want, abs=1e-6)
