"""manage.py activate_model, through call_command."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.models import ModelVersion, Prediction


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_activate_model_switches_the_serving_model_and_lists_versions(loaded_model, sample_args):
    output = run("activate_model", "tutorial-lr-v1")
    assert "tutorial-lr-v1 is now the active model" in output
    run("predict", *sample_args)
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


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_the_start_up_step_activates_the_default_model_and_says_so(loaded_model):
    output = run("activate_model", "--if-none-active")
    assert output.startswith(f"No model version was active: {loaded_model.name} is now the active model")
    assert ModelVersion.objects.get(active=True).name == loaded_model.name


@pytest.mark.django_db
def test_the_start_up_step_changes_nothing_when_a_version_is_active(loaded_model):
    run("activate_model", "tutorial-lr-v1")
    assert run("activate_model", "--if-none-active").strip() == "tutorial-lr-v1 is the active model; nothing changed"
    assert ModelVersion.objects.get(active=True).name == "tutorial-lr-v1"


def test_a_name_and_the_start_up_step_together_are_refused():
    with pytest.raises(CommandError, match="not both"):
        run("activate_model", "tutorial-lr-v1", "--if-none-active")
