"""actuals.columns: a file of actual charges checked as columns answers exactly as the row-by-row check
(services.actual_rows_check) on random valid rows and every bad kind; recorded with set-based SQL, it
stores what the row-by-row service stores, all or nothing, with the audit trail."""

import random
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predictor.actuals.columns import NONE, actual_columns_check, actual_columns_record
from predictor.actuals.services import ActualRowsError, actual_charges_record_many, actual_rows_check
from predictor.models import ActualChargeChange, Prediction
from tests.factories import PredictionFactory

CHANNEL = ActualChargeChange.Channel.COMMAND

ID_TEXT = [
    "1", "7", "0", "00", "0007", "1234", "-1", "+1", "1.0", "1e3", "abc", "", " ", "12 3", "\u0661\u0662", "\uff11",
    "9" * 18, "9" * 19, "9" * 20, "9" * 21, "9223372036854775807", "9223372036854775808", "0" * 20, "0" * 21,
]
VALUE_TEXT = [
    "0", "0.0", "1", "100", "100.5", "100.50", "100.005", "100.004", "100.0049999", "1.005", "0.005", "0.004",
    "999999.99", "999999.995", "999999.999", "1000000", "1000000.00", "1000000.001", "1000000.01", "1000001",
    "9" * 20, "9" * 21, "0" * 20, "00012.5", "12.", ".5", "1.2.3", "-5", "-0", "+5", "1e3", "1E3", "1e-2", "nan",
    "NaN", "inf", "-inf", "Infinity", "", " ", "abc", "$100", "1,000", "1 000", "\u0661\u0662", "12\u200b",
    "12.345678901234567", "12.3456789012345678", "123456.7890123456789",
]


def label(index: int) -> str:
    return f"line {index + 2}"


def both_answers(ids: list[str], values: list[str]):
    """(the row-by-row answer, the columns' answer): per row (id, cents or None), and the problems by row."""
    cleaned, errors = actual_rows_check(list(zip(ids, values)), allow_clear=False, row_label=label)
    expected = ({index: (pk, None if value is None else int(value * 100)) for index, (pk, value) in cleaned.items()},
                errors)
    checked = actual_columns_check(ids, values, row_label=label)
    got = {}
    for index in range(len(ids)):
        pk = checked.huge_ids.get(index, None if checked.ids[index] == NONE else int(checked.ids[index]))
        cents = None if checked.cents[index] == NONE else int(checked.cents[index])
        got[index] = (pk, cents)
    return expected, (got, checked.errors)


def random_rows(count: int, seed: int) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    ids = [str(pk) for pk in rng.sample(range(1, 10**7), count)]
    values = [rng.choice([f"{rng.uniform(0, 1_000_000):.2f}", f"{rng.uniform(0, 99_999):.{rng.randint(0, 6)}f}",
                          str(rng.randint(0, 1_000_000))]) for _ in range(count)]
    return ids, values


def test_random_valid_rows_are_checked_as_row_by_row():
    ids, values = random_rows(5000, seed=25)
    expected, got = both_answers(ids, values)
    assert got == expected and not got[1]


@pytest.mark.parametrize("value", VALUE_TEXT)
def test_every_known_kind_of_amount_gets_the_row_by_row_answer(value):
    expected, got = both_answers(["1", "2", "3"], ["10", value, "20"])
    assert got == expected


@pytest.mark.parametrize("pk", ID_TEXT)
def test_every_known_kind_of_id_gets_the_row_by_row_answer(pk):
    expected, got = both_answers(["1", pk, "3"], ["10", "15", "20"])
    assert got == expected


def test_repeated_ids_name_the_first_row_as_row_by_row():
    ids = ["5", "6", "5", "0005", "9" * 20, "7", "9" * 20, "6", "x"]
    expected, got = both_answers(ids, ["1", "2", "3", "-4", "5", "6", "7", "1e9", "9"])
    assert got == expected
    assert got[1][2] == ["prediction_id: prediction 5 is on line 2 too; give each prediction one value."]


def test_bad_values_in_many_rows_are_listed_by_row_as_row_by_row():
    rng = random.Random(7)
    ids, values = random_rows(600, seed=8)
    for index in rng.sample(range(600), 120):
        if rng.random() < 0.5:
            ids[index] = rng.choice(ID_TEXT + ids[:50])
        else:
            values[index] = rng.choice(VALUE_TEXT)
    expected, got = both_answers(ids, values)
    assert got == expected and got[1]


TEXT = st.one_of(st.sampled_from(ID_TEXT + VALUE_TEXT), st.text(alphabet="0123456789.-e+ ", max_size=8))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=12))
def test_any_text_gets_the_row_by_row_answer(rows):
    expected, got = both_answers([pk for pk, _ in rows], [value for _, value in rows])
    assert got == expected


# ---------------------------------------------------------------------------
# Recording: what the row-by-row service stores


@pytest.mark.django_db
def test_recording_as_columns_stores_what_row_by_row_stores_with_the_trail_and_twice_changes_nothing(django_user_model):
    user = django_user_model.objects.create_user("clerk", is_staff=True)
    first, second, third = PredictionFactory.create_batch(3)
    actual_charges_record_many(rows=[(first.pk, "5")], recorded_by=None, channel=CHANNEL)
    ids, values = [str(first.pk), str(second.pk), str(third.pk)], ["100.005", "0", "999999.999"]

    result = actual_columns_record(checked=actual_columns_check(ids, values, row_label=label), recorded_by=user, channel=CHANNEL)

    assert (result.changed, result.unchanged) == (3, 0)
    stored = Prediction.objects.order_by("pk").values_list("actual_charges", "actual_recorded_by", "actual_recorded_at")
    assert [row[:2] for row in stored] == [(Decimal("100.01"), user.pk), (Decimal("0.00"), user.pk),
                                           (Decimal("1000000.00"), user.pk)]
    assert len({row[2] for row in stored}) == 1
    trail = ActualChargeChange.objects.filter(changed_by=user).order_by("prediction_id")
    assert [(change.prediction_id, change.previous_charges, change.actual_charges, change.channel) for change in trail] == [
        (first.pk, Decimal("5.00"), Decimal("100.01"), CHANNEL), (second.pk, None, Decimal("0.00"), CHANNEL),
        (third.pk, None, Decimal("1000000.00"), CHANNEL),
    ]
    again = actual_columns_record(checked=actual_columns_check(ids, values, row_label=label), recorded_by=user, channel=CHANNEL)
    assert (again.changed, again.unchanged) == (0, 3)
    assert ActualChargeChange.objects.count() == 4


@pytest.mark.django_db
def test_a_bad_file_stores_nothing_and_names_unknown_ids_as_row_by_row():
    first, second = PredictionFactory.create_batch(2)
    rows = [(str(first.pk), "10"), (str(second.pk + 100), "20"), (str(second.pk + 101), "-1"), ("9" * 20, "5"),
            (str(second.pk), "30")]
    with pytest.raises(ActualRowsError) as row_by_row:
        actual_charges_record_many(rows=rows, recorded_by=None, channel=CHANNEL, row_label=label)
    checked = actual_columns_check([pk for pk, _ in rows], [value for _, value in rows], row_label=label)
    with pytest.raises(ActualRowsError) as as_columns:
        actual_columns_record(checked=checked, recorded_by=None, channel=CHANNEL)
    assert as_columns.value.problems() == row_by_row.value.problems()
    assert as_columns.value.unknown == row_by_row.value.unknown == {1, 3}
    assert not Prediction.objects.filter(actual_charges__isnull=False).exists()
    assert not ActualChargeChange.objects.exists()
