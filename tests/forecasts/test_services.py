"""predictor.forecasts: cohorts from files, records and stored predictions; the forecast; its CSV."""

import csv
import io
from datetime import datetime, timezone

import numpy as np
import pytest

from predictor import csv_io, services, serving
from predictor.batches import files as batch_files
from predictor.forecasts.cohorts import StoredFilter, cells_from_arrays, cells_from_stored
from predictor.forecasts.presentation import BREAKDOWN_COLUMNS, forecast_as_dict, forecast_breakdown_csv
from predictor.forecasts.services import (
    ForecastError,
    ForecastNotFound,
    forecast_from_records,
    forecast_from_stored,
    forecast_from_table,
    forecast_model,
)
from predictor.models import Prediction
from tests.factories import random_valid_rows

COLUMNS = ("age", "sex", "bmi", "children", "smoker", "region")
RANGES = {"age": [18, 64], "bmi": [15.96, 53.13], "children": [0, 5]}


def table_of(rows: list[dict], extra_header: str = "") -> csv_io.CsvTable:
    text = ",".join(COLUMNS) + extra_header + "\n" + "".join(
        ",".join(str(row[name]) for name in COLUMNS) + "\n" for row in rows
    )
    return batch_files.batch_csv_read(text.splitlines(keepends=True))


# ---------------------------------------------------------------------------
# A bad file: the batch files' problems (the cleaning itself: tests/test_columns.py)


def test_a_bad_file_gets_the_batch_files_problems_with_line_numbers(db):
    rows = random_valid_rows(30, seed=4)
    rows[2]["age"] = "twelve"
    rows[17]["region"] = "atlantis"
    rows[17]["bmi"] = "0"
    table = table_of(rows)
    with pytest.raises(csv_io.CsvFileError) as batch:
        batch_files.batch_score(table=table, file_name="members.csv")
    with pytest.raises(csv_io.CsvFileError) as forecast:
        forecast_from_table(table, file_name="members.csv")
    assert forecast.value.problems == batch.value.problems
    assert forecast.value.problems[0].startswith("line 4: age: ")
    assert forecast.value.bad_rows == 2
    assert Prediction.objects.count() == 0


# ---------------------------------------------------------------------------
# Cells


def test_cells_sum_a_small_cohort_worked_by_hand():
    cells = cells_from_arrays(
        age=[30, 35, 70], sex=["male", "male", "female"], bmi=[31.0, 33.0, 22.0], children=[1, 2, 0],
        smoker=["yes", "yes", "no"], region=["southeast", "southeast", "northwest"], training_ranges=RANGES,
    )
    by_key = {key: index for index, key in enumerate(cells.keys)}
    smokers = by_key[("male", "yes", "southeast", True, 1, None)]  # both 30-39, obese
    assert (cells.count[smokers], cells.sum_age[smokers], cells.sum_age_squared[smokers]) == (2, 65, 900 + 1225)
    assert (cells.sum_bmi[smokers], cells.sum_children[smokers], cells.extrapolated[smokers]) == (64.0, 3, 0)
    elder = by_key[("female", "no", "northwest", False, 4, None)]  # 65+, outside the training ages
    assert (cells.count[elder], cells.extrapolated[elder]) == (1, 1)
    assert cells.patients == 3


@pytest.mark.django_db
def test_postgresql_sums_the_same_cells_as_numpy():
    rows = random_valid_rows(300, seed=8)
    stored = services.prediction_create_many(rows=rows, source="api")
    Prediction.objects.filter(pk__in=[p.pk for p in stored[:100]]).update(created_at=datetime(2026, 1, 31, 23, 59, tzinfo=timezone.utc))
    Prediction.objects.filter(pk__in=[p.pk for p in stored[100:]]).update(created_at=datetime(2026, 2, 1, tzinfo=timezone.utc))
    from_database = cells_from_stored(StoredFilter(), card={"training_ranges": RANGES})
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    in_memory = cells_from_arrays(**columns, training_ranges=RANGES)

    def totals(cells, with_month):
        out = {}
        for index, key in enumerate(cells.keys):
            key = key if with_month else key[:5]
            values = np.array([cells.count[index], cells.sum_age[index], cells.sum_age_squared[index],
                               cells.sum_bmi[index], cells.sum_children[index], cells.extrapolated[index]])
            out[key] = out.get(key, 0) + values
        return out

    database, memory = totals(from_database, with_month=False), totals(in_memory, with_month=False)
    assert set(database) == set(memory)
    for key in memory:
        assert database[key] == pytest.approx(memory[key], rel=1e-12)
    months = {key[5] for key in from_database.keys}
    assert months == {"2026-01", "2026-02"}
    assert sum(from_database.count[i] for i, key in enumerate(from_database.keys) if key[5] == "2026-01") == 100


# ---------------------------------------------------------------------------
# The forecast and its presentation


@pytest.mark.django_db
def test_records_and_their_csv_file_forecast_the_same():
    rows = random_valid_rows(200, seed=5)
    from_file = forecast_as_dict(forecast_from_table(table_of(rows), file_name="f.csv", seed=3))
    from_records = forecast_as_dict(forecast_from_records(rows, seed=3))
    assert from_file.pop("cohort") == "200 patients from f.csv"
    assert from_records.pop("cohort") == "200 patients sent"
    assert from_file == from_records


@pytest.mark.django_db
def test_the_breakdown_csv_holds_the_total_and_every_row():
    forecast = forecast_from_records(random_valid_rows(80, seed=6))
    as_dict = forecast_as_dict(forecast)
    rows = list(csv.DictReader(io.StringIO(forecast_breakdown_csv(forecast))))
    assert list(rows[0]) == list(BREAKDOWN_COLUMNS)
    assert (rows[0]["dimension"], rows[0]["value"], int(rows[0]["patients"])) == ("all", "all", 80)
    assert float(rows[0]["expected_total"]) == as_dict["expected_total"]
    assert [float(rows[0]["range_90_low"]), float(rows[0]["range_90_high"])] == as_dict["ranges"]["90"]
    assert [float(rows[0]["naive_interval_low"]), float(rows[0]["naive_interval_high"])] == as_dict["naive_interval_sum"]
    assert [(row["dimension"], row["value"]) for row in rows[1:]] == [(row["dimension"], row["value"]) for row in as_dict["breakdown"]]


@pytest.mark.django_db
def test_the_naive_sum_is_far_wider_than_the_90_percent_range_for_a_large_cohort():
    as_dict = forecast_as_dict(forecast_from_records(random_valid_rows(2000, seed=9)))
    naive_low, naive_high = as_dict["naive_interval_sum"]
    low, high = as_dict["ranges"]["90"]
    assert naive_high - naive_low > 2 * (high - low)
    # and the served estimates' sum sits below the expected total: charges are skewed
    assert as_dict["point_sum"] < as_dict["expected_total"]


@pytest.mark.django_db
def test_a_filter_selecting_nobody_is_not_found():
    with pytest.raises(ForecastNotFound, match="No stored prediction matches this filter"):
        forecast_from_stored(StoredFilter(region="southwest"))


@pytest.mark.django_db
def test_a_model_without_a_distribution_is_refused_naming_one_that_has():
    serving.model_version_activate(name="huber-blend-v1")
    with pytest.raises(ForecastError, match=r"huber-blend-v1 has no predictive distribution.*huber-blend-v2"):
        forecast_model()


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_no_active_model_says_how_to_activate_one():
    with pytest.raises(ForecastError, match="activate_model"):
        forecast_model()
