"""manage.py predict and model_info, through call_command."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.models import Prediction

VALID_ARGS = ["--age", "19", "--sex", "female", "--bmi", "27.9", "--children", "0", "--smoker", "yes", "--region", "southwest"]


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_predict_stores_one_row_and_prints_its_charge():
    output = run("predict", *VALID_ARGS)
    row = Prediction.objects.get()
    assert f"${row.predicted_charges:,} a year" in output
    assert f"prediction {row.pk}" in output
    assert row.source == Prediction.Source.SHELL
    assert (row.age, row.sex, row.bmi, row.children, row.smoker, row.region) == (19, "female", 27.9, 0, "yes", "southwest")


@pytest.mark.django_db
def test_predict_refuses_bad_input_with_the_form_messages_and_stores_nothing():
    args = list(VALID_ARGS)
    args[args.index("--age") + 1] = "150"
    args[args.index("--bmi") + 1] = "inf"
    with pytest.raises(CommandError) as caught:
        run("predict", *args)
    message = str(caught.value)
    assert "--age: The age must be between 18 and 100." in message
    assert "--bmi: Enter the BMI as a number, like 27.9." in message
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_predict_warns_about_extrapolation():
    args = list(VALID_ARGS)
    args[args.index("--age") + 1] = "80"
    assert "extrapolation: age" in run("predict", *args)


def test_predict_requires_every_field():
    with pytest.raises(CommandError, match="--region"):
        run("predict", *VALID_ARGS[:-2])


@pytest.mark.django_db
def test_model_info_json_is_the_verified_card(loaded_model):
    card = json.loads(run("model_info", "--json"))
    assert card == loaded_model.card
    assert set(card["holdout"]) >= {"r2", "mae", "rmse", "interval_coverage"}
    assert set(card["cv"]) == {"r2", "mae", "rmse"}
    assert card["features"] == ["age", "sex", "bmi", "children", "smoker", "region"]
    assert card["data"]["sha256"] == "6e3894cf7d9210613f62c866684055decea694345cd4f244ecd7167041578c68"


@pytest.mark.django_db
def test_model_info_text_names_the_model_and_its_holdout_metrics(loaded_model):
    output = run("model_info")
    assert loaded_model.name in output
    assert "(verified)" in output
    assert f"R² {loaded_model.card['holdout']['r2']:.4f}" in output
    assert "holdout coverage" in output


@pytest.mark.django_db
def test_model_info_fails_when_the_artifact_is_missing(settings, tmp_path):
    settings.PREDICTOR_PIPELINE_PATH = tmp_path / "gone.pkl"
    with pytest.raises(CommandError, match="is missing"):
        run("model_info")


@pytest.mark.django_db
def test_activate_model_switches_the_serving_model_and_lists_versions(loaded_model):
    from predictor.models import ModelVersion

    output = run("activate_model", "tutorial-lr-v1")
    assert "tutorial-lr-v1 is now the active model" in output
    run("predict", *VALID_ARGS)
    assert Prediction.objects.get().model_version.name == "tutorial-lr-v1"
    listing = run("activate_model", "--list")
    assert "tutorial-lr-v1                 active" in listing
    assert loaded_model.name in listing
    run("activate_model", loaded_model.name)
    assert ModelVersion.objects.get(active=True).name == loaded_model.name


@pytest.mark.django_db
def test_activate_model_refuses_an_unknown_name():
    with pytest.raises(CommandError, match="no-such-model.pkl is missing"):
        run("activate_model", "no-such-model")
