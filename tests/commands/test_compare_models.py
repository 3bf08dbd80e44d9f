"""manage.py compare_models: the comparison as text or JSON, and its exit status by verdict."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.models import AccessLogEntry
from tests.changes.scores import better_rows, scored_rows, worse_rows

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[int, str]:
    out = StringIO()
    try:
        call_command("compare_models", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


def test_a_better_challenger_exits_0_and_the_json_has_the_keys_other_systems_read(challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version)

    code, output = run("--json")

    figures = json.loads(output)
    assert code == 0 and figures["verdict"] == "better"
    assert {"n", "champion", "challenger", "difference", "mae_ratio", "segments", "verdict"} <= set(figures)
    for role in ("champion", "challenger"):
        assert {"name", "mae", "rmse", "bias", "coverage"} <= set(figures[role])
    assert set(figures["difference"]) == {"mean", "low", "high", "p_value"}
    assert {"value", "low", "high"} <= set(figures["mae_ratio"])
    assert all({"dimension", "group", "n", "difference"} <= set(part) for part in figures["segments"])
    entry = AccessLogEntry.objects.get()
    assert entry.command == "compare_models" and entry.action == "model_comparison"


def test_a_worse_challenger_exits_1_and_says_why(challenger_version, active_model_version):
    worse_rows(active_model_version, challenger_version)

    code, output = run()

    assert code == 1
    assert "Verdict: worse." in output and "wholly above $0" in output
    assert f"Champion {active_model_version.name} against challenger huber-blend-v1: 60 predictions compared" in output


def test_a_challenger_within_the_margin_is_not_worse_and_exits_0(challenger_version, active_model_version):
    scored_rows(champion=active_model_version, challenger=challenger_version, count=60,
                champion_error=lambda i: 100 + (i % 5), challenger_error=lambda i: 110 + (i % 5),
                challenger_inside=lambda i: i % 10 != 0)

    code, output = run()

    assert code == 0 and "Verdict: not worse." in output


@pytest.mark.parametrize("count", [1, 10])
def test_too_few_rows_exit_3(challenger_version, active_model_version, count):
    better_rows(active_model_version, challenger_version, count=count)

    code, output = run()

    assert code == 3 and "Verdict: not enough evidence." in output and f"{count} rows compared" in output


def test_without_a_challenger_it_exits_2_with_a_clear_message(active_model_version):
    with pytest.raises(CommandError, match="There is no challenger to compare") as refused:
        call_command("compare_models", stdout=StringIO())

    assert refused.value.returncode == 2
    assert not AccessLogEntry.objects.exists()


def test_without_actual_charges_it_exits_2(challenger_version):
    with pytest.raises(CommandError, match="No stored prediction has an actual charge") as refused:
        call_command("compare_models", "--json", stdout=StringIO())

    assert refused.value.returncode == 2


def test_the_margin_comes_from_the_setting(challenger_version, active_model_version, settings):
    # The challenger errs $10 more a patient: within a $50 margin, not within a $5 one.
    scored_rows(champion=active_model_version, challenger=challenger_version, count=60,
                champion_error=lambda i: 100 + (i % 5), challenger_error=lambda i: 110 + (i % 5),
                challenger_inside=lambda i: i % 10 != 0)
    settings.PREDICTOR_CHALLENGER_MARGIN = 5.0

    code, output = run("--json")

    assert code == 1 and json.loads(output)["margin"] == 5.0 and "$5 a patient" in json.loads(output)["rule"]
