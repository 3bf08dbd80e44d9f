"""manage.py purge_predictions: the retention of patients' inputs, anonymised or deleted in batches."""

import csv
import math
import re
from collections import Counter
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from predictor import monitoring, retention
from predictor.forecasts.cohorts import StoredFilter, _age_band_index
from predictor.forecasts.services import forecast_from_stored
from predictor.ml.interval import interval_group
from predictor.models import ActualChargeChange, Batch, Prediction
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db

COLUMNS = [field.attname for field in Prediction._meta.concrete_fields if field.name != "anonymised_at"]


def state() -> list[tuple]:
    """Every prediction's columns (but the time of anonymisation), by id."""
    return list(Prediction.objects.order_by("id").values_list(*COLUMNS))


def purge(*args: str) -> str:
    out = StringIO()
    call_command("purge_predictions", *args, "--no-progress", stdout=out, stderr=StringIO())
    return out.getvalue()


def days_ago(days: float, *, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=days)


@pytest.fixture
def rows(active_model_version):
    """Ten predictions made 400 days ago and five made 10 days ago, with inputs on the bands' edges."""
    old_inputs = [
        (18, 15.95, 0), (29, 15.96, 1), (30, 18.5, 2), (39, 25.0, 3), (40, 30.0, 5),
        (49, 30.01, 6), (50, 35.0, 10), (64, 40.0, 4), (65, 53.13, 0), (100, 53.14, 2),
    ]
    old = [
        PredictionFactory(
            age=age, bmi=bmi, children=children, smoker="yes" if index % 3 == 0 else "no",
            model_version=active_model_version, predicted_charges=Decimal(f"{1000 + index}.25"),
            predicted_charges_low=Decimal(f"{900 + index}.25"), predicted_charges_high=Decimal(f"{1100 + index}.25"),
            created_at=days_ago(400) + timedelta(minutes=index),
        )
        for index, (age, bmi, children) in enumerate(old_inputs)
    ]
    recent = [
        PredictionFactory(model_version=active_model_version, created_at=days_ago(10) + timedelta(minutes=index))
        for index in range(5)
    ]
    return old, recent


# --- the cut-off -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "days", "cutoff"),
    [
        # 2025 is no leap year: 365 days before 1 March 2026 is 1 March 2025.
        (datetime(2026, 3, 1, 12, 0, tzinfo=dt_timezone.utc), 365, datetime(2025, 3, 1, 12, 0, tzinfo=dt_timezone.utc)),
        # 29 February 2024 lies between: 365 days before 1 March 2024 is 2 March 2023.
        (datetime(2024, 3, 1, 12, 0, tzinfo=dt_timezone.utc), 365, datetime(2023, 3, 2, 12, 0, tzinfo=dt_timezone.utc)),
        (datetime(2026, 3, 1, 0, 30, tzinfo=dt_timezone.utc), 1, datetime(2026, 2, 28, 0, 30, tzinfo=dt_timezone.utc)),
        (datetime(2026, 1, 10, 8, 0, tzinfo=dt_timezone.utc), 30, datetime(2025, 12, 11, 8, 0, tzinfo=dt_timezone.utc)),
    ],
)
def test_the_cutoff_is_exactly_that_many_days_of_24_hours_before_now(now, days, cutoff):
    assert retention.retention_cutoff(days=days, now=now) == cutoff


def test_rows_a_minute_either_side_of_the_cutoff_are_changed_and_kept(active_model_version):
    now = timezone.now()
    older = PredictionFactory(model_version=active_model_version, age=33, created_at=days_ago(365, now=now) - timedelta(minutes=1))
    newer = PredictionFactory(model_version=active_model_version, age=33, created_at=days_ago(365, now=now) + timedelta(minutes=1))

    out = purge("--older-than", "365", "--anonymise")

    older.refresh_from_db()
    newer.refresh_from_db()
    assert older.anonymised_at is not None and older.age == 35
    assert newer.anonymised_at is None and newer.age == 33
    printed = datetime.strptime(re.search(r"made before (\S+ \S+) UTC", out)[1], "%Y-%m-%d %H:%M:%S")
    expected = days_ago(365, now=now).replace(tzinfo=None)
    assert timedelta(0) <= printed - expected.replace(microsecond=0) < timedelta(seconds=30)
    assert out.startswith("1 prediction made before") and "older than 365 days" in out


# --- dry run ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["--anonymise", "--delete"])
def test_a_dry_run_counts_and_changes_nothing(rows, action):
    old, _ = rows
    before = state()
    changes_before = ActualChargeChange.objects.count()

    out = purge("--older-than", "365", action, "--dry-run")

    assert state() == before and ActualChargeChange.objects.count() == changes_before
    assert not Prediction.objects.filter(anonymised_at__isnull=False).exists()
    verb = "anonymised" if action == "--anonymise" else "deleted"
    assert out.startswith(f"Dry run: 10 predictions made before ")
    assert f"would be {verb}" in out and "Nothing changed." in out
    assert f"Their ids run from {min(p.pk for p in old)} to {max(p.pk for p in old)}." in out


# --- anonymise -----------------------------------------------------------------------------------------


def test_anonymising_bands_the_inputs_keeps_the_rest_and_marks_the_rows(rows):
    old, recent = rows
    recent_before = [r for r in state() if r[0] in {p.pk for p in recent}]

    out = purge("--older-than", "365", "--anonymise")

    assert out.startswith("10 predictions made before ") and " anonymised, in 1 transaction of at most 5,000 rows" in out
    # Worked by hand from the bands in predictor/retention.py.
    expected = [
        (24, 13.0, 0), (24, 17.25, 1), (35, 17.25, 1), (35, 21.75, 3), (45, 27.5, 3),
        (45, 32.5, 8), (57, 32.5, 8), (57, 37.5, 3), (70, 46.5, 0), (70, 60.0, 1),
    ]
    for prediction, (age, bmi, children) in zip(old, expected):
        stored = Prediction.objects.get(pk=prediction.pk)
        assert (stored.age, stored.bmi, stored.children) == (age, bmi, children)
        assert (stored.sex, stored.smoker, stored.region) == (prediction.sex, prediction.smoker, prediction.region)
        assert stored.created_at == prediction.created_at.astimezone(dt_timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
        assert (stored.predicted_charges, stored.predicted_charges_low, stored.predicted_charges_high) == (
            prediction.predicted_charges, prediction.predicted_charges_low, prediction.predicted_charges_high
        )
        assert stored.model_version_id == prediction.model_version_id and stored.source == prediction.source
        assert stored.anonymised_at is not None
        # The groupings the app aggregates by are the same: interval group, age band, extrapolation.
        assert interval_group({"smoker": stored.smoker, "bmi": stored.bmi}) == interval_group(
            {"smoker": prediction.smoker, "bmi": prediction.bmi}
        )
        assert _age_band_index([stored.age]) == _age_band_index([prediction.age])
        for name, (low, high) in (("age", (18, 64)), ("bmi", (15.96, 53.13)), ("children", (0, 5))):
            assert (low <= getattr(stored, name) <= high) == (low <= getattr(prediction, name) <= high), name
    assert [r for r in state() if r[0] in {p.pk for p in recent}] == recent_before
    assert Prediction.objects.filter(anonymised_at__isnull=True).count() == 5


def test_anonymising_keeps_actual_charges_and_their_audit_trail(rows, admin_user):
    from predictor.actuals.services import actual_charges_record

    old, _ = rows
    actual_charges_record(
        prediction_id=old[0].pk, actual_charges=Decimal("1234.56"), recorded_by=admin_user,
        channel=ActualChargeChange.Channel.COMMAND,
    )
    trail = list(ActualChargeChange.objects.values_list("prediction_id", "previous_charges", "actual_charges"))

    purge("--older-than", "365", "--anonymise")

    stored = Prediction.objects.get(pk=old[0].pk)
    assert stored.actual_charges == Decimal("1234.56") and stored.actual_recorded_by == admin_user
    assert list(ActualChargeChange.objects.values_list("prediction_id", "previous_charges", "actual_charges")) == trail


def test_a_second_run_changes_nothing(rows):
    purge("--older-than", "365", "--anonymise")
    after_first = list(Prediction.objects.order_by("id").values_list(*COLUMNS, "anonymised_at"))

    out = purge("--older-than", "365", "--anonymise")

    assert list(Prediction.objects.order_by("id").values_list(*COLUMNS, "anonymised_at")) == after_first
    assert out.startswith("0 predictions made before ")
    assert purge("--older-than", "365", "--delete", "--dry-run").startswith("Dry run: 10 predictions")


@pytest.mark.parametrize("batch_size", [1, 2, 3, 7, 10, 5000])
def test_every_batch_size_gives_the_same_anonymised_rows(rows, batch_size):
    old, recent = rows
    before = {row[0]: row for row in state()}

    out = purge("--older-than", "365", "--anonymise", "--batch-size", str(batch_size))

    transactions = math.ceil(len(old) / batch_size)
    assert f" anonymised, in {transactions} transaction{'s' if transactions > 1 else ''} of at most {batch_size:,} rows" in out
    index = {name: COLUMNS.index(name) for name in ("age", "bmi", "children", "created_at")}
    for row in state():
        expected = list(before[row[0]])
        if row[0] in {p.pk for p in old}:
            for name in ("age", "bmi", "children"):
                expected[index[name]] = retention.banded(name, expected[index[name]])
            expected[index["created_at"]] = expected[index["created_at"]].replace(hour=0, minute=0, second=0, microsecond=0)
        assert row == tuple(expected)


def test_anonymised_rows_forecast_and_monitor_with_the_same_counts_and_charges(active_model_version, insurance_csv):
    """The training data stored as predictions 400 days old with their real charges, then anonymised."""
    with open(insurance_csv, newline="") as handle:
        patients = list(csv.DictReader(handle))
    made = days_ago(400).replace(hour=12)
    Prediction.objects.bulk_create([
        Prediction(
            age=int(p["age"]), sex=p["sex"], bmi=float(p["bmi"]), children=int(p["children"]), smoker=p["smoker"],
            region=p["region"], predicted_charges=Decimal("10000.00"), predicted_charges_low=Decimal("8000.00"),
            predicted_charges_high=Decimal("12000.00"), actual_charges=Decimal(p["charges"]).quantize(Decimal("0.01")),
            model_version=active_model_version, source="batch", created_at=made,
        )
        for p in patients
    ])

    def groups() -> Counter:
        return Counter(interval_group({"smoker": s, "bmi": b}) for s, b in Prediction.objects.values_list("smoker", "bmi"))

    forecast_before = forecast_from_stored(StoredFilter())
    report_before = monitoring.monitoring_report()
    groups_before = groups()

    purge("--older-than", "365")

    assert Prediction.objects.filter(anonymised_at__isnull=True).count() == 0
    assert groups() == groups_before
    forecast_after = forecast_from_stored(StoredFilter())
    assert "1,338 anonymised by retention" in forecast_after.cohort
    assert forecast_after.total["patients"] == forecast_before.total["patients"] == 1338
    assert forecast_after.total["extrapolated"] == forecast_before.total["extrapolated"]
    # What the README claims for the data file: the total within 0.1%, each breakdown row within 1%.
    assert forecast_after.total["expected_total"] == pytest.approx(forecast_before.total["expected_total"], rel=1e-3)
    assert [(r["dimension"], r["value"], r["patients"], r["extrapolated"]) for r in forecast_after.breakdown] == [
        (r["dimension"], r["value"], r["patients"], r["extrapolated"]) for r in forecast_before.breakdown
    ]
    for after, before in zip(forecast_after.breakdown, forecast_before.breakdown):
        assert after["expected_total"] == pytest.approx(before["expected_total"], rel=1e-2), after["value"]
    # Monitoring's accuracy, coverage and breakdowns come from charges and groups: the same.
    report_after = monitoring.monitoring_report()

    def figures(report) -> list:
        slices = [report.overall, *report.by_month, *report.by_group, *report.by_region, *report.by_version]
        return [(part.key, part.accuracy) for part in slices]

    assert figures(report_after) == figures(report_before)
    assert report_after.drift.anonymised == 1338 and report_before.drift.anonymised == 0
    # Age, BMI and children are bands now: left out of drift; sex, smoker and region still count.
    assert {item.name: item.n for item in report_after.drift.inputs} == {"sex": 1338, "smoker": 1338, "region": 1338}


# --- delete -------------------------------------------------------------------------------------------


@pytest.fixture
def batches(rows, active_model_version, admin_user):
    """Rows in batches (one all old, one half old) and actual charges with their trail on old and recent rows."""
    from predictor.actuals.services import actual_charges_record

    old, recent = rows
    all_old = Batch.objects.create(file_name="old.csv", row_count=2, created_at=days_ago(400))
    half_old = Batch.objects.create(file_name="half.csv", row_count=3, created_at=days_ago(400))
    Prediction.objects.filter(pk__in=[old[0].pk, old[1].pk]).update(batch=all_old, source="batch")
    Prediction.objects.filter(pk__in=[old[2].pk, recent[0].pk, recent[1].pk]).update(batch=half_old, source="batch")
    for prediction in (old[3], old[4], recent[2]):
        for amount in ("100.00", "200.00"):
            actual_charges_record(
                prediction_id=prediction.pk, actual_charges=Decimal(amount), recorded_by=admin_user,
                channel=ActualChargeChange.Channel.COMMAND,
            )
    return all_old, half_old


@pytest.mark.parametrize("batch_size", [1, 3, 5000])
def test_deleting_removes_exactly_the_old_rows_and_what_depends_on_them(rows, batches, batch_size):
    old, recent = rows
    all_old, half_old = batches
    recent_before = [row for row in state() if row[0] in {p.pk for p in recent}]

    dry = purge("--older-than", "365", "--delete", "--dry-run")
    out = purge("--older-than", "365", "--delete", "--batch-size", str(batch_size))

    assert "would be deleted, with 4 changes of their actual charges (the audit trail); 1 batch left without predictions would be deleted." in dry
    assert out.startswith("10 predictions made before ")
    assert " deleted, with 4 changes of their actual charges (the audit trail); 1 batch left without predictions deleted, in " in out
    assert state() == recent_before
    assert set(ActualChargeChange.objects.values_list("prediction_id", flat=True)) == {recent[2].pk}
    assert ActualChargeChange.objects.count() == 2
    assert not Batch.objects.filter(pk=all_old.pk).exists()
    half_old.refresh_from_db()
    assert half_old.row_count == 2 == half_old.predictions.count()
    assert purge("--older-than", "365", "--delete").startswith("0 predictions")


def test_deleting_takes_anonymised_rows_too(rows):
    purge("--older-than", "365", "--anonymise")

    out = purge("--older-than", "365", "--delete")

    assert out.startswith("10 predictions") and Prediction.objects.count() == 5


# --- the settings as defaults ------------------------------------------------------------------


def test_without_retention_days_it_says_keep_and_changes_nothing(rows, settings):
    settings.PREDICTOR_RETENTION_DAYS = None
    before = state()

    out = purge()

    assert out == "Retention is keep: PREDICTOR_RETENTION_DAYS is not set, so inputs are kept forever. Nothing changed.\n"
    assert state() == before


def test_it_uses_the_configured_days_and_action(rows, settings):
    settings.PREDICTOR_RETENTION_DAYS = 365
    settings.PREDICTOR_RETENTION_ACTION = "delete"

    out = purge()

    assert "older than 365 days) deleted" in out and Prediction.objects.count() == 5


def test_the_configured_days_and_anonymise_by_default(rows, settings):
    settings.PREDICTOR_RETENTION_DAYS = 500

    assert purge().startswith("0 predictions")
    settings.PREDICTOR_RETENTION_DAYS = 399
    out = purge()

    assert "older than 399 days) anonymised" in out
    assert Prediction.objects.filter(anonymised_at__isnull=False).count() == 10


def test_the_options_override_the_settings(rows, settings):
    settings.PREDICTOR_RETENTION_DAYS = 1
    settings.PREDICTOR_RETENTION_ACTION = "delete"

    purge("--older-than", "365", "--anonymise")

    assert Prediction.objects.count() == 15 and Prediction.objects.filter(anonymised_at__isnull=False).count() == 10


# --- bad arguments ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "0"], "--older-than must be a whole number from 1 to 36,500, not '0'."),
        (["--older-than", "-5"], "--older-than must be a whole number from 1 to 36,500, not '-5'."),
        (["--older-than", "1.5"], "--older-than must be a whole number from 1 to 36,500, not '1.5'."),
        (["--older-than", "a year"], "--older-than must be a whole number from 1 to 36,500, not 'a year'."),
        (["--older-than", "36501"], "--older-than must be a whole number from 1 to 36,500, not '36501'."),
        (["--older-than", "30", "--batch-size", "0"], "--batch-size must be a whole number from 1 to 100,000, not '0'."),
        (["--older-than", "30", "--batch-size", "many"], "--batch-size must be a whole number from 1 to 100,000, not 'many'."),
        (["--older-than", "30", "--anonymise", "--delete"], "not allowed with argument"),
        (["--older-than", "30", "--purge"], "unrecognized arguments: --purge"),
    ],
)
def test_bad_arguments_are_a_clear_error_and_change_nothing(rows, args, message):
    before = state()

    with pytest.raises(CommandError) as error:
        purge(*args)

    assert message in str(error.value)
    assert state() == before and not Prediction.objects.filter(anonymised_at__isnull=False).exists()


def test_a_bad_batch_size_is_refused_even_when_retention_is_keep(rows, settings):
    settings.PREDICTOR_RETENTION_DAYS = None

    with pytest.raises(CommandError, match="--batch-size"):
        purge("--batch-size", "0")


def test_the_progress_bar_goes_to_stderr(rows):
    out, err = StringIO(), StringIO()

    call_command("purge_predictions", "--older-than", "365", "--batch-size", "4", stdout=out, stderr=err)

    assert "anonymising" in err.getvalue() and "10/10" in err.getvalue()
    assert "anonymising" not in out.getvalue() and "in 3 transactions of at most 4 rows" in out.getvalue()
