"""bench/challenger.py: challenger_score's benchmark on a few hundred rows, against the test database."""

import pytest

from bench import challenger
from predictor.models import ChallengerScore

RESULT = {"rows": 1_000_000, "seconds": 42.0, "rows_per_second": 23_810, "scores": 1_000_000, "predictions": 1_000_000,
          "rows_scored_twice": 0, "second_run_seconds": 1.0, "checked": 500, "wrong": 0,
          "second_run_output": "huber-blend-v1 (challenger): 0 predictions scored, 0 skipped"}


@pytest.mark.django_db
def test_the_bench_scores_every_row_once_and_checks_them_against_the_row_by_row_oracle(active_model_version):
    result = challenger.challenger_measure(rows=300, chunk_size=70, check=40)
    assert (result["rows"], result["scores"], result["predictions"], result["rows_scored_twice"]) == (300, 300, 300, 0)
    assert result["checked"] == 40 and result["wrong"] == 0 and result["store_floor_seconds"] > 0
    assert ChallengerScore.objects.filter(model_version__name="huber-blend-v1").count() == 300
    checks = challenger.challenger_checks(result)
    assert checks[0][0].startswith("challenger_score of 300 stored predictions: ")  # its time: a figure, not tested
    assert all(ok for _, ok in checks[1:]), checks


def test_the_verdict_scales_the_target_to_the_rows_and_fails_on_any_check():
    assert all(ok for _, ok in challenger.challenger_checks(RESULT))
    assert "target at most 60 s" in challenger.challenger_checks(RESULT)[0][0]
    slow = challenger.challenger_checks({**RESULT, "rows": 100_000, "scores": 100_000, "predictions": 100_000, "seconds": 6.5})
    assert "target at most 6 s" in slow[0][0] and not slow[0][1]
    assert not challenger.challenger_checks({**RESULT, "wrong": 1})[3][1]
    assert not challenger.challenger_checks({**RESULT, "scores": 999_999})[1][1]
    assert not challenger.challenger_checks({**RESULT, "second_run_output": "huber-blend-v1 (challenger): 5 predictions scored"})[2][1]
