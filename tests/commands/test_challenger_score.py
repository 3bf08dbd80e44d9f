"""manage.py challenger_score, through call_command."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor import services
from predictor.models import ChallengerScore
from tests.factories import random_valid_rows

pytestmark = pytest.mark.django_db


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("challenger_score", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_scores_the_stored_rows_with_a_progress_bar_and_says_what_it_did(loaded_model):
    services.prediction_create_many(rows=random_valid_rows(12, seed=7), source="api")
    call_command("challenger_set", "huber-blend-v1", stdout=StringIO())
    out, err = run("--chunk-size", "5")
    assert out.splitlines() == [
        "huber-blend-v1 (challenger): 12 predictions scored, 0 skipped (inputs anonymised by retention)",
        f"{loaded_model.name} (champion): 0 predictions scored, 0 skipped (inputs anonymised by retention)",
    ]
    assert "huber-blend-v1 (challenger): 100%" in err and "12/12" in err
    assert ChallengerScore.objects.count() == 12
    out, _ = run("--no-progress")
    assert out.startswith("huber-blend-v1 (challenger): 0 predictions scored")


def test_without_a_challenger_it_says_how_to_set_one_and_exits_1():
    with pytest.raises(CommandError, match="There is no challenger to score: set one with") as refused:
        run()
    assert refused.value.returncode == 1


@pytest.mark.parametrize("size", ["0", "-3", "many"])
def test_a_chunk_size_must_be_a_whole_number_of_at_least_1(size):
    with pytest.raises(CommandError, match="is not a whole number of rows of at least 1"):
        run("--chunk-size", size)
