"""columns: the column cleaner (rows_clean_columns) answers exactly as PredictionForm's fields, row by row
(prediction_rows_clean), on the data file, on random valid rows and on every bad kind the tests know."""

import csv
import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from predictor import columns
from predictor.features import FEATURES
from tests.factories import random_valid_rows

# Every kind of value the other tests send (test_csv_io, batches/test_views, api/test_errors, forecasts),
# and their neighbours: blanks, words, out of range, decimals for integers, exponents, signs, unicode
# digits, too-long numbers, NaN and infinity, wrong choices, case and spaces inside.
NUMBER_TEXT = [
    "19", "019", "0019", "64", "100", "101", "17", "18", "0", "5", "10", "11", "-5", "+19", "-0", "00",
    "27.9", "27.90", "30", "30.0", "30.01", "9.99", "10.0", "70", "70.0", "70.0001", "69.999999999999999999",
    "19.0", "19.5", "42.5", "2.0", ".5", "5.", "1.2.3", "1..2", "..", ".", "1e1", "1E1", "2e1", "1e-1", "27.9e0",
    "1_9", "1 9", "1,5", "0x13", "\u0661\u0669", "\uff11\uff19", "\u00b2", "1\u00b2", "\u0967\u096f", "19\u200b",
    "", " ", "abc", "twelve", "nan", "NaN", "inf", "-inf", "Infinity", "None", "True",
    "9" * 20, "9" * 21, "1" + "0" * 19, "0" * 20 + "19", "0" * 19 + "19", "9" * 30, "1" + "0" * 400,
    "27.9" + "0" * 16, "27.9" + "0" * 17, "12345678901234567.5",
]
CHOICE_TEXT = [
    "yes", "no", "Yes", "YES", "y", "true", "male", "female", "Male", "FEMALE", "other", "x", "robot", "maybe",
    "northeast", "northwest", "southeast", "southwest", "NorthEast", "north east", "north-east", "mars",
    "atlantis", "", " ", "yes ", "\u00a0yes", "ｙｅｓ", "0", "1",
]


def prediction_rows(texts: dict[str, list[str]]) -> list[dict[str, str]]:
    length = len(next(iter(texts.values())))
    return [{name: texts[name][index] for name in texts} for index in range(length)]


def both_answers(texts: dict[str, list[str]]):
    """(the form's answer, the column cleaner's answer): the cleaned rows or the problems by row."""
    rows = prediction_rows(texts)
    try:
        expected = columns.prediction_rows_clean(rows)
    except columns.PredictionRowsError as exc:
        expected = exc.row_errors
    try:
        cleaned = columns.rows_clean_columns(texts)
    except columns.PredictionRowsError as exc:
        got = exc.row_errors
    else:
        lists = {name: cleaned[name].tolist() for name in texts}
        got = [{name: lists[name][index] for name in texts} for index in range(len(rows))]
    return expected, got


def assert_equal_answers(texts: dict[str, list[str]]) -> None:
    expected, got = both_answers(texts)
    assert got == expected
    if isinstance(expected, list):  # the same types too: 19, not 19.0; words as str
        assert [[type(row[name]) for name in FEATURES] for row in got] == [
            [type(row[name]) for name in FEATURES] for row in expected
        ]


def texts_of(rows: list[dict]) -> dict[str, list[str]]:
    return {name: [str(row[name]) for row in rows] for name in FEATURES}


# ---------------------------------------------------------------------------
# Valid rows: the same values and types


def test_every_row_of_the_data_file_is_cleaned_as_the_form_cleans_it(insurance_csv):
    with open(insurance_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 1000
    assert_equal_answers(texts_of(rows))


def test_random_valid_rows_are_cleaned_as_the_form_cleans_them():
    assert_equal_answers(texts_of(random_valid_rows(5000, seed=25)))


def test_the_columns_have_the_types_the_columnar_path_takes():
    cleaned = columns.rows_clean_columns(texts_of(random_valid_rows(10, seed=3)))
    assert {name: values.dtype.kind for name, values in cleaned.items()} == {
        "age": "i", "sex": "O", "bmi": "f", "children": "i", "smoker": "O", "region": "O"
    }


# ---------------------------------------------------------------------------
# Bad rows: the same messages, by row


@pytest.mark.parametrize("name", ["age", "bmi", "children"])
def test_every_known_kind_of_number_text_gets_the_forms_answer(name):
    rows = random_valid_rows(len(NUMBER_TEXT), seed=7)
    texts = texts_of(rows)
    texts[name] = list(NUMBER_TEXT)
    assert_equal_answers(texts)
    for text in NUMBER_TEXT:  # one at a time too: a file holding only that value
        single = texts_of(rows[:1])
        single[name] = [text]
        assert_equal_answers(single)


@pytest.mark.parametrize("name", ["sex", "smoker", "region"])
def test_every_known_kind_of_choice_text_gets_the_forms_answer(name):
    rows = random_valid_rows(len(CHOICE_TEXT), seed=8)
    texts = texts_of(rows)
    texts[name] = list(CHOICE_TEXT)
    assert_equal_answers(texts)


def test_bad_values_in_several_fields_and_rows_are_listed_by_row_as_the_form_lists_them():
    rng = random.Random(25)
    rows = random_valid_rows(400, seed=9)
    texts = texts_of(rows)
    for index in rng.sample(range(400), 60):
        for name in rng.sample(FEATURES, rng.randint(1, 3)):
            texts[name][index] = rng.choice(CHOICE_TEXT if name in ("sex", "smoker", "region") else NUMBER_TEXT)
    expected, got = both_answers(texts)
    assert isinstance(expected, dict) and got == expected


def test_a_row_with_an_odd_but_valid_value_is_cleaned_by_the_forms_fields():
    texts = texts_of(random_valid_rows(3, seed=1))
    texts["age"][1], texts["bmi"][2], texts["children"][0] = "19.0", "1e1", "2.0"
    cleaned = columns.rows_clean_columns(texts)
    assert (cleaned["age"][1], cleaned["bmi"][2], cleaned["children"][0]) == (19, 10.0, 2)
    assert_equal_answers(texts)


def test_no_rows_are_no_columns():
    cleaned = columns.rows_clean_columns({name: [] for name in FEATURES})
    assert all(len(values) == 0 for values in cleaned.values())


TEXT = st.one_of(st.sampled_from(NUMBER_TEXT + CHOICE_TEXT), st.text(alphabet="0123456789.-e_ ", max_size=6))


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({name: TEXT for name in FEATURES}), min_size=1, max_size=8))
def test_any_text_gets_the_forms_answer(rows):
    assert_equal_answers({name: [row[name] for row in rows] for name in FEATURES})


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.floats(min_value=10, max_value=70, allow_nan=False))
def test_any_bmi_as_python_writes_it_reads_as_the_same_float(bmi):
    texts = texts_of(random_valid_rows(1, seed=2))
    texts["bmi"] = [repr(bmi) if "e" not in repr(bmi) else "27.9"]
    cleaned = columns.rows_clean_columns(texts)
    assert cleaned["bmi"].tolist() == [float(texts["bmi"][0])]
    assert np.isfinite(cleaned["bmi"]).all()
