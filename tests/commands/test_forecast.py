"""manage.py forecast, through call_command."""

import json
from http import HTTPStatus
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.features import FEATURES
from predictor.models import Prediction

from ..factories import random_valid_rows

REQUIRED_KEYS = {"patients", "expected_total", "median_total", "ranges", "naive_interval_sum", "breakdown", "seed", "model_version"}


def write(path, rows: list[dict], header: str = ",".join(FEATURES)):
    lines = [header] + [",".join(str(row[name]) for name in FEATURES) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("forecast", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def rows():
    return random_valid_rows(150, seed=12)


@pytest.mark.django_db
def test_json_prints_one_object_with_the_issues_keys_and_stores_nothing(tmp_path, rows):
    out, err = run(write(tmp_path / "members.csv", rows), "--json")
    answer = json.loads(out)
    assert REQUIRED_KEYS <= set(answer)
    assert answer["patients"] == 150 and answer["seed"] == 0 and answer["model_version"] == "huber-blend-v2"
    assert set(answer["ranges"]) == {"50", "80", "90"}
    assert all(len(pair) == 2 and pair[0] < pair[1] for pair in answer["ranges"].values())
    assert len(answer["naive_interval_sum"]) == 2
    assert {row["dimension"] for row in answer["breakdown"]} == {"region", "smoker", "sex", "age_band"}
    assert Prediction.objects.count() == 0
    assert "reading" in err and "forecasting" in err  # the progress bars, on stderr


@pytest.mark.django_db
def test_the_command_and_the_api_give_the_same_figures_for_the_same_seed(tmp_path, rows, admin_client):
    out, _ = run(write(tmp_path / "members.csv", rows), "--json", "--seed", 42)
    from_command = json.loads(out)
    response = admin_client.post("/api/v1/forecasts", json.dumps({"records": rows, "seed": 42}), content_type="application/json")
    assert response.status_code == HTTPStatus.OK
    from_api = response.json()
    assert from_command.pop("cohort") == "150 patients from members.csv"
    assert from_api.pop("cohort") == "150 patients sent"
    assert from_command == from_api


@pytest.mark.django_db
def test_the_seed_changes_the_draws_and_nothing_else(tmp_path, rows):
    source = write(tmp_path / "members.csv", rows)
    first, second = (json.loads(run(source, "--json", "--seed", seed)[0]) for seed in (1, 2))
    assert first["simulation"] != second["simulation"]
    for answer in (first, second):
        del answer["simulation"], answer["seed"]
    assert first == second


@pytest.mark.django_db
def test_the_text_shows_the_totals_ranges_naive_sum_and_breakdown(tmp_path, rows):
    out, _ = run(write(tmp_path / "members.csv", rows), "--no-progress")
    answer = json.loads(run(tmp_path / "members.csv", "--json", "--no-progress")[0])
    assert f"expected total    ${answer['expected_total']:,.0f}" in out
    low, high = answer["ranges"]["90"]
    assert f"90% range         ${low:,.0f} to ${high:,.0f}" in out
    assert "naive sum of the patients' 90% intervals" in out
    assert "Age band 65+" in out and "patients lie outside the model's training ranges" in out


@pytest.mark.django_db
def test_a_bad_file_is_refused_with_the_same_problems_as_predict_csv_and_nothing_stored(tmp_path, rows):
    rows[4]["bmi"] = "heavy"
    rows[99]["children"] = 12
    source = write(tmp_path / "members.csv", rows)
    with pytest.raises(CommandError) as forecast:
        run(source, "--json")
    with pytest.raises(CommandError) as scoring:
        call_command("predict_csv", str(source), str(tmp_path / "out.csv"), stdout=StringIO(), stderr=StringIO())
    problems = str(forecast.value).split("\n")[1:]
    assert problems == str(scoring.value).split("\n")[1:]
    assert problems[0].startswith("line 6: bmi: ") and problems[1].startswith("line 101: children: ")
    assert "2 bad rows; nothing stored" in str(forecast.value)
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_a_missing_header_column_is_refused(tmp_path, rows):
    source = write(tmp_path / "members.csv", rows, header="age,sex,bmi,children,smoker,area")
    with pytest.raises(CommandError, match="the header lacks the column region"):
        run(source)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        run(tmp_path / "nothing.csv")


@pytest.mark.django_db
def test_an_active_model_without_a_distribution_is_refused_naming_one(tmp_path, rows):
    from predictor import serving

    serving.model_version_activate(name="huber-blend-v1")
    with pytest.raises(CommandError, match=r"huber-blend-v1 has no predictive distribution.*activate_model huber-blend-v2"):
        run(write(tmp_path / "members.csv", rows))
