"""actuals: recording actual charges (who, when, the audit trail; all or nothing) and reading files of them."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from predictor import csv_io
from predictor.actuals.files import ActualsTable, actuals_csv_read, actuals_file_record
from predictor.actuals.services import (
    ActualRowsError,
    ActualsRecorded,
    actual_charges_record,
    actual_charges_record_many,
)
from predictor.models import ActualChargeChange, Prediction
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db

CHANNEL = ActualChargeChange.Channel.COMMAND


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("clerk", password="pw-for-tests-only", is_staff=True)


def record(rows, user=None, **options):
    return actual_charges_record_many(rows=rows, recorded_by=user, channel=CHANNEL, **options)


def stored(prediction: Prediction) -> Prediction:
    return Prediction.objects.get(pk=prediction.pk)


def test_recording_sets_the_value_who_and_when_and_starts_the_audit_trail(staff):
    prediction = PredictionFactory()
    result = record([(prediction.pk, "16884.92")], staff)
    assert result == ActualsRecorded(changed=1, unchanged=0)
    row = stored(prediction)
    assert row.actual_charges == Decimal("16884.92")
    assert row.actual_recorded_by == staff
    assert row.actual_recorded_at is not None
    [change] = ActualChargeChange.objects.filter(prediction=prediction)
    assert (change.previous_charges, change.actual_charges, change.changed_by, change.channel) == (
        None, Decimal("16884.92"), staff, "command",
    )
    assert change.changed_at == row.actual_recorded_at


def test_a_change_keeps_the_previous_value_and_never_touches_the_prediction(staff, django_user_model):
    prediction = PredictionFactory(age=40, predicted_charges=Decimal("9000.00"))
    record([(prediction.pk, 1000)], staff)
    other = django_user_model.objects.create_user("auditor", is_staff=True)
    record([(prediction.pk, 1250.5)], other)
    row = stored(prediction)
    assert row.actual_charges == Decimal("1250.50") and row.actual_recorded_by == other
    assert (row.age, row.predicted_charges, row.model_version_id) == (40, Decimal("9000.00"), prediction.model_version_id)
    trail = list(ActualChargeChange.objects.filter(prediction=prediction).order_by("id").values_list(
        "previous_charges", "actual_charges", "changed_by__username"
    ))
    assert trail == [(None, Decimal("1000.00"), "clerk"), (Decimal("1000.00"), Decimal("1250.50"), "auditor")]


def test_recording_the_same_value_again_changes_nothing(staff, django_user_model):
    prediction = PredictionFactory()
    record([(prediction.pk, "500")], staff)
    before = stored(prediction)
    result = record([(prediction.pk, "500.00")], django_user_model.objects.create_user("other", is_staff=True))
    assert result == ActualsRecorded(changed=0, unchanged=1)
    after = stored(prediction)
    assert (after.actual_recorded_by_id, after.actual_recorded_at) == (before.actual_recorded_by_id, before.actual_recorded_at)
    assert ActualChargeChange.objects.count() == 1


def test_amounts_are_rounded_to_the_cent_and_0_and_1000000_are_allowed():
    low, high, fine = PredictionFactory.create_batch(3)
    record([(low.pk, 0), (high.pk, "1000000"), (fine.pk, 16884.924)])
    assert [stored(p).actual_charges for p in (low, high, fine)] == [Decimal("0.00"), Decimal("1000000.00"), Decimal("16884.92")]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "cannot be negative"),
        (-0.01, "cannot be negative"),
        ("1000000.01", "more than $1,000,000"),
        ("1e400", "more than $1,000,000"),
        ("abc", "as a number of dollars"),
        ("$1,234.56", "as a number of dollars"),
        ("1,234", "as a number of dollars"),
        ("NaN", "as a number of dollars"),
        (float("inf"), "as a number of dollars"),
        ("9" * 30, "as a number of dollars"),
        (True, "as a number of dollars"),
        ([1], "as a number of dollars"),
        ("", "Enter the actual charges"),
        (None, "Enter the actual charges"),
    ],
)
def test_bad_values_are_clear_errors_and_nothing_is_stored(value, message):
    good, bad = PredictionFactory.create_batch(2)
    with pytest.raises(ActualRowsError) as caught:
        record([(good.pk, "100"), (bad.pk, value)])
    [(index, problem)] = caught.value.problems()
    assert index == 1 and problem.startswith("actual_charges: ") and message in problem
    assert not Prediction.objects.filter(actual_charges__isnull=False).exists()
    assert not ActualChargeChange.objects.exists()


@pytest.mark.parametrize("value", ["x", "1.5", "-3", "", None, "9" * 30, "１２", 1.0])
def test_bad_ids_are_clear_errors(value):
    with pytest.raises(ActualRowsError) as caught:
        record([(value, "100")])
    [(_, problem)] = caught.value.problems()
    assert problem.startswith("prediction_id: ")
    assert not caught.value.unknown


@pytest.mark.parametrize("value", ["0", str(2**63), "9" * 20])
def test_ids_no_prediction_can_have_are_unknown(value):
    with pytest.raises(ActualRowsError) as caught:
        record([(value, "100")])
    assert caught.value.problems() == [(0, f"prediction_id: there is no prediction {int(value)}.")]
    assert caught.value.unknown == {0}


def test_unknown_ids_are_named_and_nothing_is_stored():
    known = PredictionFactory()
    with pytest.raises(ActualRowsError) as caught:
        record([(known.pk, "100"), (known.pk + 1000, "200")])
    assert caught.value.problems() == [(1, f"prediction_id: there is no prediction {known.pk + 1000}.")]
    assert caught.value.unknown == {1}
    assert stored(known).actual_charges is None


def test_duplicate_ids_are_errors_naming_the_other_row():
    prediction, other = PredictionFactory.create_batch(2)
    with pytest.raises(ActualRowsError) as caught:
        record([(prediction.pk, "100"), (other.pk, "5"), (prediction.pk, "100")])
    [(index, problem)] = caught.value.problems()
    assert index == 2 and f"prediction {prediction.pk} is on row 0 too" in problem
    assert not Prediction.objects.filter(actual_charges__isnull=False).exists()


def test_every_problem_is_listed_at_once():
    known = PredictionFactory()
    with pytest.raises(ActualRowsError) as caught:
        record([(known.pk + 1000, "1"), (known.pk, "-1"), ("x", "y")])
    assert [index for index, _ in caught.value.problems()] == [0, 1, 2, 2]
    assert caught.value.unknown == {0}


def test_an_empty_value_clears_only_where_allowed_and_the_trail_keeps_it(staff):
    prediction = PredictionFactory()
    record([(prediction.pk, "700")], staff)
    with pytest.raises(ActualRowsError):
        record([(prediction.pk, "")], staff)
    record([(prediction.pk, "")], staff, allow_clear=True)
    assert stored(prediction).actual_charges is None
    last = ActualChargeChange.objects.filter(prediction=prediction).order_by("-id").first()
    assert (last.previous_charges, last.actual_charges) == (Decimal("700.00"), None)


def test_no_rows_and_unknown_channels_are_refused():
    with pytest.raises(ValidationError):
        record([])
    with pytest.raises(ValidationError):
        actual_charges_record_many(rows=[(1, "1")], recorded_by=None, channel="carrier-pigeon")


def test_one_row_returns_the_prediction_as_stored(staff):
    prediction = PredictionFactory()
    row = actual_charges_record(prediction_id=prediction.pk, actual_charges="12.345", recorded_by=staff, channel="api")
    assert row.pk == prediction.pk and row.actual_charges == Decimal("12.35")


def test_many_rows_are_recorded_with_one_update(django_assert_max_num_queries):
    predictions = PredictionFactory.create_batch(50)
    # savepoint, one locking read per 900 ids, one UPDATE, the audit rows (sequence + COPY), release
    with django_assert_max_num_queries(8):
        record([(p.pk, index) for index, p in enumerate(predictions)])
    assert sorted(Prediction.objects.values_list("actual_charges", flat=True)) == [Decimal(i) for i in range(50)]
    assert ActualChargeChange.objects.count() == 50


# ---------------------------------------------------------------------------
# Files


def read(text: str, **options) -> ActualsTable:
    return actuals_csv_read(text.splitlines(keepends=True), **options)


def file_problems(text: str) -> list[str]:
    with pytest.raises(csv_io.CsvFileError) as caught:
        table = read(text)
        actuals_file_record(table=table, recorded_by=None, channel=CHANNEL)
    return caught.value.problems


def test_a_file_names_its_columns_in_any_order_and_ignores_others_and_blank_lines():
    table = read("note,ACTUAL_CHARGES, Prediction_Id\nx,100.5,7\n\n,,\ny,200,8\n")
    assert table.rows == [("7", "100.5"), ("8", "200")]
    assert table.line_numbers == [2, 5]


def test_a_file_is_recorded_whole_and_sending_it_again_changes_nothing(staff):
    first, second = PredictionFactory.create_batch(2)
    text = f"prediction_id,actual_charges\n{first.pk},1000\n{second.pk},2000.5\n"
    result = actuals_file_record(table=read(text), recorded_by=staff, channel=CHANNEL)
    assert result == ActualsRecorded(changed=2, unchanged=0)
    again = actuals_file_record(table=read(text), recorded_by=staff, channel=CHANNEL)
    assert again == ActualsRecorded(changed=0, unchanged=2)
    assert ActualChargeChange.objects.count() == 2


def test_file_problems_have_line_numbers_and_nothing_is_stored():
    a, b = PredictionFactory.create_batch(2)
    text = (
        "prediction_id,actual_charges\n"
        f"{a.pk},100\n"
        "\n"
        f"{b.pk},-5\n"
        f"{a.pk},100\n"
        f"{b.pk + 1000},10\n"
        "abc,2000000\n"
    )
    assert file_problems(text) == [
        "line 4: actual_charges: The actual charges cannot be negative.",
        f"line 5: prediction_id: prediction {a.pk} is on line 2 too; give each prediction one value.",
        f"line 6: prediction_id: there is no prediction {b.pk + 1000}.",
        "line 7: prediction_id: The prediction id must be a whole number, like 1234.",
        "line 7: actual_charges: The actual charges cannot be more than $1,000,000 a year; check the amount.",
    ]
    assert not Prediction.objects.filter(actual_charges__isnull=False).exists()


def test_a_row_with_the_wrong_number_of_values_is_listed_with_the_other_problems():
    problems = file_problems("prediction_id,actual_charges\n1,2,3\nx,5\n")
    assert problems == [
        "line 2: has 3 values, but the header names 2 columns.",
        "line 3: prediction_id: The prediction id must be a whole number, like 1234.",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The file is empty"),
        ("\n\n", "The file is empty"),
        ("id,charges\n1,2\n", "the header lacks the columns prediction_id, actual_charges"),
        ("prediction_id,actual_charges,prediction_id\n1,2,3\n", "names prediction_id more than once"),
        ("prediction_id,actual_charges\n", "no rows to record"),
        ("prediction_id,actual_charges\n1,2\x00\n", "NUL characters"),
        ('prediction_id,actual_charges\n"' + "9" * 200_000 + '",2\n', "line 2: this is not CSV text (field larger"),
    ],
)
def test_files_that_are_not_files_of_actual_charges_are_refused(text, message):
    with pytest.raises(csv_io.CsvFileError) as caught:
        read(text)
    assert message in caught.value.problems[0]


def test_the_row_limit_and_the_encoding_are_checked():
    with pytest.raises(csv_io.CsvFileError, match="more than 2 rows"):
        read("prediction_id,actual_charges\n1,1\n2,2\n3,3\n", max_rows=2)
    assert csv_io.csv_decode("\ufeffprediction_id".encode()) == "prediction_id"
    with pytest.raises(csv_io.CsvFileError, match="not a UTF-8"):
        csv_io.csv_decode(b"\xff\xfe\x00")
