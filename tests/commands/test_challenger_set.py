"""manage.py challenger_set and challenger_clear, through call_command."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from predictor.models import ModelChange, ModelVersion

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def challenger() -> str | None:
    version = ModelVersion.objects.filter(challenger=True).first()
    return version and version.name


def test_challenger_set_makes_a_version_the_challenger_and_records_who_and_why():
    get_user_model().objects.create_user("ada", is_staff=True)
    output = run("challenger_set", "huber-blend-v1", "--user", "ada", "--reason", "same method, older data")
    assert "huber-blend-v1 is now the challenger" in output and "challenger_score" in output
    assert challenger() == "huber-blend-v1"
    change = ModelChange.objects.order_by("id").last()
    assert (change.kind, change.from_version, change.to_version.name) == ("challenger_set", None, "huber-blend-v1")
    assert (change.channel, change.username, change.reason) == ("command", "ada", "same method, older data")
    assert change.changed_by.username == "ada"


def test_challenger_set_replaces_the_challenger_and_says_so():
    run("challenger_set", "huber-blend-v1")
    assert "tutorial-lr-v1 is now the challenger (in place of huber-blend-v1)" in run("challenger_set", "tutorial-lr-v1")
    count = ModelChange.objects.count()
    assert "tutorial-lr-v1 is the challenger already; nothing changed" in run("challenger_set", "tutorial-lr-v1")
    assert ModelChange.objects.count() == count


@pytest.mark.parametrize(
    "args,message",
    [
        (("no-such-model",), "no-such-model.pkl is missing"),
        (("huber-blend-v2",), "huber-blend-v2 is the active model"),
        (("huber-blend-v1", "--user", "nobody"), "No active user is called 'nobody'"),
    ],
)
def test_challenger_set_refuses_bad_input_and_changes_nothing(args, message):
    count = ModelChange.objects.count()
    with pytest.raises(CommandError, match=message) as refused:
        run("challenger_set", *args)
    assert refused.value.returncode == 1
    assert challenger() is None and ModelChange.objects.count() == count


def test_challenger_set_refuses_a_tampered_artifact(settings, tmp_path):
    import shutil

    from predictor.ml import artifacts

    source = artifacts.artifact_path_for("huber-blend-v1")
    shutil.copy(source, tmp_path / source.name)
    shutil.copy(artifacts.card_path_for(source), artifacts.card_path_for(tmp_path / source.name))
    (tmp_path / source.name).write_bytes((tmp_path / source.name).read_bytes()[:-1] + b"X")
    settings.PREDICTOR_PIPELINE_PATH = tmp_path / "huber-blend-v2.pkl"
    with pytest.raises(CommandError, match="the file was changed or replaced.*Nothing changed"):
        run("challenger_set", "huber-blend-v1")
    assert challenger() is None


def test_challenger_clear_clears_and_records_it():
    run("challenger_set", "huber-blend-v1")
    assert "huber-blend-v1 is no longer the challenger" in run("challenger_clear", "--reason", "compared enough")
    assert challenger() is None
    change = ModelChange.objects.order_by("id").last()
    assert (change.kind, change.from_version.name, change.to_version, change.reason) == (
        "challenger_clear", "huber-blend-v1", None, "compared enough"
    )


def test_challenger_clear_without_a_challenger_says_so_and_records_nothing():
    count = ModelChange.objects.count()
    with pytest.raises(CommandError, match="There is no challenger to clear"):
        run("challenger_clear")
    assert ModelChange.objects.count() == count
