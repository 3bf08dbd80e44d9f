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
    output = run("activate_model", "huber-blend-v1")
    assert "huber-blend-v1 is now the active model" in output
    run("predict", *sample_args)
    assert Prediction.objects.get().model_version.name == "huber-blend-v1"
    listing = run("activate_model", "--list")
    assert "huber-blend-v1                 active" in listing
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
    run("activate_model", "huber-blend-v1")
    assert run("activate_model", "--if-none-active").strip() == "huber-blend-v1 is the active model; nothing changed"
    assert ModelVersion.objects.get(active=True).name == "huber-blend-v1"


def test_a_name_and_the_start_up_step_together_are_refused():
    with pytest.raises(CommandError, match="not both"):
        run("activate_model", "tutorial-lr-v1", "--if-none-active")


@pytest.mark.django_db
def test_activate_model_records_who_and_why_so_a_rollback_is_a_change_like_any_other(loaded_model):
    from django.contrib.auth import get_user_model

    from predictor.models import ModelChange

    get_user_model().objects.create_user("ada", is_staff=True)
    run("activate_model", "huber-blend-v1", "--user", "ada", "--reason", "v2 misprices smokers")
    run("activate_model", loaded_model.name, "--reason", "roll back")
    recorded = [
        (change.from_version.name, change.to_version.name, change.channel, change.username, change.reason)
        for change in ModelChange.objects.filter(kind="champion", from_version__isnull=False).order_by("id")
    ]
    assert recorded == [
        (loaded_model.name, "huber-blend-v1", "command", "ada", "v2 misprices smokers"),
        ("huber-blend-v1", loaded_model.name, "command", "", "roll back"),
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name,message",
    [
        ("tutorial-lr-v1", r"tutorial-lr-v1 answers -\$15,5\d\d\.\d\d for age 18, sex male, bmi 70, children 0"),
        ("huber-blend-v1", "huber-blend-v1 is the challenger: it becomes the champion only through `manage.py promote_challenger`"),
    ],
)
def test_activate_model_refuses_a_version_below_the_floor_and_the_challenger(loaded_model, name, message):
    from predictor.models import ModelChange

    run("challenger_set", "huber-blend-v1")
    count = ModelChange.objects.count()
    with pytest.raises(CommandError, match=message):
        run("activate_model", name)
    assert ModelVersion.objects.get(active=True).name == loaded_model.name and ModelChange.objects.count() == count


def test_user_and_reason_go_with_a_name():
    with pytest.raises(CommandError, match="--user and --reason go with a NAME"):
        run("activate_model", "--if-none-active", "--reason", "start")
