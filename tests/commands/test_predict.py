"""manage.py predict, through call_command."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.examples import SAMPLE_PATIENT
from predictor.features import FEATURES
from predictor.models import Prediction


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def with_option(args: list[str], name: str, value: str) -> list[str]:
    args = list(args)
    args[args.index(f"--{name}") + 1] = value
    return args


@pytest.mark.django_db
def test_predict_stores_one_row_and_prints_its_charge(sample_args):
    output = run("predict", *sample_args)
    row = Prediction.objects.get()
    assert f"${row.predicted_charges:,} a year" in output
    assert "$17,076.04 a year" in output  # tests/golden/predictions.csv
    assert f"prediction {row.pk}" in output
    assert row.source == Prediction.Source.SHELL
    assert {name: getattr(row, name) for name in FEATURES} == SAMPLE_PATIENT


@pytest.mark.django_db
def test_predict_refuses_bad_input_with_the_form_messages_and_stores_nothing(sample_args):
    args = with_option(with_option(sample_args, "age", "150"), "bmi", "inf")
    with pytest.raises(CommandError) as caught:
        run("predict", *args)
    message = str(caught.value)
    assert "--age: The age must be between 18 and 100." in message
    assert "--bmi: Enter the BMI as a number, like 27.9." in message
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_predict_warns_about_extrapolation(sample_args):
    assert "extrapolation: age" in run("predict", *with_option(sample_args, "age", "80"))


@pytest.mark.django_db
def test_predict_does_not_warn_inside_the_training_ranges(sample_args):
    assert "extrapolation" not in run("predict", *sample_args)


def test_predict_requires_every_field(sample_args):
    assert sample_args[-2] == "--region"
    with pytest.raises(CommandError, match="--region"):
        run("predict", *sample_args[:-2])


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_predict_without_an_active_model_stores_nothing_and_says_why(sample_args):
    with pytest.raises(CommandError, match="no prediction stored: the model is not available: No model version is active"):
        run("predict", *sample_args)
    assert Prediction.objects.count() == 0
