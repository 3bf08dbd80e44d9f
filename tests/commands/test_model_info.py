"""manage.py model_info, through call_command."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command


def run(*args) -> str:
    out = StringIO()
    call_command("model_info", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_model_info_json_is_the_verified_card(loaded_model):
    card = json.loads(run("--json"))
    assert card == loaded_model.card
    assert set(card["holdout"]) >= {"r2", "mae", "rmse", "interval_coverage"}
    assert set(card["cv"]) == {"r2", "mae", "rmse"}
    assert card["features"] == ["age", "sex", "bmi", "children", "smoker", "region"]
    assert card["data"]["sha256"] == "6e3894cf7d9210613f62c866684055decea694345cd4f244ecd7167041578c68"


@pytest.mark.django_db
def test_model_info_text_names_the_model_and_its_holdout_metrics(loaded_model):
    output = run()
    assert loaded_model.name in output
    assert "(verified)" in output
    assert f"R² {loaded_model.card['holdout']['r2']:.4f}" in output
    assert "holdout coverage" in output


@pytest.mark.django_db
def test_model_info_of_a_named_model_without_an_interval_says_so():
    output = run("--name", "tutorial-lr-v1")
    assert "model:        tutorial-lr-v1" in output
    assert "interval:     none (this model has no prediction interval)" in output


@pytest.mark.django_db
def test_model_info_fails_when_the_artifact_is_missing(settings, tmp_path):
    settings.PREDICTOR_PIPELINE_PATH = tmp_path / "gone.pkl"
    with pytest.raises(CommandError, match="is missing"):
        run()


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_model_info_without_an_active_version_asks_for_a_name():
    with pytest.raises(CommandError, match="No model version is active: give --name NAME"):
        run()


@pytest.mark.django_db
def test_model_info_shows_the_forecast_calibration_figures(loaded_model):
    card = json.loads(run("--json"))
    for size in ("25", "100"):
        assert {"coverage_90", "coverage_50", "mean_total_error", "repetitions"} <= set(card["cohort_calibration"][size])
    assert set(card["interval_calibration"]["groups"]) == set(card["interval"]["groups"])
    text = run()
    figures = card["cohort_calibration"]["100"]
    assert f"cohorts of 100: 90% range held {figures['coverage_90']:.1%}, 50% range {figures['coverage_50']:.1%}" in text
    assert "interval over 20 splits: non_smoker_not_obese" in text


@pytest.mark.django_db
def test_model_info_shows_the_cards_fairness(loaded_model):
    fairness = json.loads(run("--json"))["fairness"]
    assert set(fairness) >= {"groups", "variants", "leakage"}
    assert set(fairness["variants"]) == {"unaware", "discrimination_free", "rating_factors"}
    assert set(fairness["leakage"]) >= {"auc", "mean_abs_gap"}
    output = run()
    assert f"fairness:     {fairness['rows']['count']:,} out-of-fold rows" in output
    assert f"leakage AUC {fairness['leakage']['auc']:.3f}" in output
