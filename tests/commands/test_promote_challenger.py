"""manage.py promote_challenger: promotion by the verdict, --force with --reason, the record of the change."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.models import ModelChange, ModelVersion
from tests.changes.scores import better_rows, worse_rows

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    try:
        call_command("promote_challenger", *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def test_a_better_challenger_is_promoted_and_the_history_shows_it_with_its_figures(challenger_version, active_model_version, admin_user):
    better_rows(active_model_version, challenger_version)

    code, output, _ = run("--user", "admin", "--reason", "lower errors on 2026 actuals")

    assert code == 0 and "huber-blend-v1 is now the champion; it replaced huber-blend-v2." in output
    assert "Verdict: better." in output
    change = ModelChange.objects.filter(kind=ModelChange.Kind.CHAMPION).first()
    assert (change.channel, change.username, change.forced) == ("promotion", "admin", False)
    assert change.evidence["verdict"] == "better" and change.evidence["challenger"]["name"] == "huber-blend-v1"


def test_a_worse_challenger_is_refused_saying_why_changing_nothing(challenger_version, active_model_version):
    worse_rows(active_model_version, challenger_version)
    changes = ModelChange.objects.count()

    code, output, errors = run("--reason", "try")

    assert code == 1
    assert "was not promoted: the verdict is worse" in errors and "wholly above $0" in errors
    assert ModelVersion.objects.get(active=True) == active_model_version and ModelChange.objects.count() == changes


def test_force_overrides_a_worse_verdict_and_is_recorded_as_forced(challenger_version, active_model_version):
    worse_rows(active_model_version, challenger_version)

    code, output, _ = run("--force", "--reason", "the champion was withdrawn")

    assert code == 0 and "(forced, overriding the rule)" in output
    change = ModelChange.objects.filter(kind=ModelChange.Kind.CHAMPION).first()
    assert change.forced and change.reason == "the champion was withdrawn"


def test_force_without_a_reason_is_refused(challenger_version):
    with pytest.raises(CommandError, match="--force needs --reason") as refused:
        run("--force")

    assert refused.value.returncode == 2 and ModelVersion.objects.get(challenger=True) == challenger_version


def test_without_a_challenger_it_says_so_and_exits_2(active_model_version):
    with pytest.raises(CommandError, match="There is no challenger") as refused:
        run()

    assert refused.value.returncode == 2 and ModelVersion.objects.get(active=True) == active_model_version


def test_an_unknown_user_is_refused_before_anything(challenger_version):
    with pytest.raises(CommandError, match="There is no user 'nobody'") as refused:
        run("--user", "nobody")

    assert refused.value.returncode == 2
