"""bench/bound.py: the lower bound of batch work on a few rows, against the test database."""

import csv

import pytest
from django.db import connection

from bench import bound
from bench.harness import RECORD
from predictor.models import Batch


def scratch_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'bench_bound_scratch%%'")
        return [name for (name,) in cursor.fetchall()]


@pytest.fixture
def members(tmp_path):
    path = tmp_path / "members.csv"
    bound.members_csv_write(path, 500)
    return path


def test_the_members_file_is_bench_runs_rows(members):
    rows = list(csv.DictReader(members.open()))
    assert len(rows) == 500 and list(rows[0]) == list(RECORD)
    again = members.with_name("again.csv")
    bound.members_csv_write(again, 500)
    assert again.read_bytes() == members.read_bytes()


@pytest.mark.django_db(transaction=True)
def test_each_step_runs_and_the_scratch_table_is_dropped(members, loaded_model, active_model_version):
    result = bound.bound_measure(members, model=loaded_model, model_version_id=active_model_version.pk)
    assert all(result[step] >= 0 for step in bound.STEPS)
    assert result["total"] == pytest.approx(sum(result[step] for step in bound.STEPS), abs=0.01)
    assert result["rows"] == result["rows_copied"] == 500
    assert scratch_tables() == []
    # The copy with the foreign keys was checked and then undone: no batch, no table left behind.
    assert result["foreign_keys"] > 0
    assert not Batch.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_scratch_table_is_dropped_when_a_step_fails(tmp_path, loaded_model, active_model_version):
    bad = tmp_path / "bad.csv"
    bad.write_text("age,sex,bmi,children,smoker,region\n19,female,27.9,0,yes,southwest\n200,male,30,1,no,north\n")
    with pytest.raises(ValueError, match="1 rows fail the checks"):
        bound.bound_measure(bad, model=loaded_model, model_version_id=active_model_version.pk)
    assert scratch_tables() == []


def test_the_checks_count_every_bad_kind(members):
    import pandas as pd

    frame = pd.read_csv(members)
    assert bound.frame_problems(frame) == 0
    bad = frame.head(6).copy()
    bad.loc[0, "bmi"] = 9.9
    bad.loc[1, "children"] = 11
    bad.loc[2, "sex"] = "other"
    bad.loc[3, "region"] = None
    bad.loc[4, "smoker"] = "Yes"
    assert bound.frame_problems(bad) == 5
    assert bound.frame_problems(frame.head(3).assign(age=[19.5, 30, 40])) == 3  # ages are whole numbers


@pytest.mark.django_db(transaction=True)
def test_predict_csv_is_timed_with_the_commands_own_report(members, tmp_path, active_model_version):
    timed = bound.predict_csv_timed(members, tmp_path / "out.csv")
    assert timed["seconds"] > 0 and timed["reported_seconds"] is not None
    assert timed["reported_seconds"] == pytest.approx(timed["seconds"], abs=0.1)


def test_the_ratio_and_its_verdict():
    result = {"rows": 100_000, "rows_copied": 100_000, "total": 2.0, "predict_csv": {"seconds": 2.9, "reported_seconds": 2.9},
              "ratio": bound.bound_ratio(2.9, 2.0), "startup_seconds": 1.4, "model_load_seconds": 0.9,
              **{step: 0.4 for step in bound.STEPS}}
    assert result["ratio"] == 1.45
    checks = bound.bound_checks(result)
    assert checks[0][1] and "1.45x the lower bound's 2.00 s (target at most 1.5x)" in checks[0][0]
    assert checks[1] == ("the bound copied 100,000 rows of 100,000", True)
    assert not bound.bound_checks({**result, "ratio": bound.bound_ratio(3.1, 2.0)})[0][1]
    text = "\n".join(bound.bound_lines(result))
    assert "pandas read_csv" in text and "the bound in all" in text and "1.45x the bound" in text
    assert "Python and Django 1.40 s, the model load 0.90 s" in text
