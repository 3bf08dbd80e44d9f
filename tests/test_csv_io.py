"""csv_io: reading a batch file (csv_decode, csv_read), and writing it back with predicted_charges (csv_write)."""

import io

import pytest

from predictor import csv_io
from predictor.batches import files as batch_files
from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT
from predictor.features import FEATURES

HEADER = ",".join(FEATURES)


def line(patient: dict, columns=FEATURES) -> str:
    return ",".join(str(patient[name]) for name in columns) + "\n"


def text_records(patient: dict) -> dict:
    """A patient as csv_read hands it over: text, as in the file."""
    return {name: str(patient[name]) for name in FEATURES}


def read(*lines: str, **options) -> csv_io.CsvTable:
    return batch_files.batch_csv_read(list(lines), **options)


def problems_of(*lines: str, **options) -> list[str]:
    with pytest.raises(csv_io.CsvFileError) as caught:
        read(*lines, **options)
    return caught.value.problems


# ---------------------------------------------------------------------------
# A good file


def test_reads_the_six_inputs_of_each_row_as_text():
    table = read(HEADER + "\n", line(SAMPLE_PATIENT), line(SECOND_PATIENT))
    assert table.records == [text_records(SAMPLE_PATIENT), text_records(SECOND_PATIENT)]
    assert table.line_numbers == [2, 3]


def test_the_header_may_name_the_columns_in_any_order_and_case_with_spaces():
    columns = ("region", "smoker", "children", "bmi", "sex", "age")
    table = read(" Region ,SMOKER,Children,BMI,sex,Age\n", line(SAMPLE_PATIENT, columns))
    assert table.records == [text_records(SAMPLE_PATIENT)]
    assert table.header == [" Region ", "SMOKER", "Children", "BMI", "sex", "Age"]  # kept as written, for the output


def test_other_columns_are_kept_and_values_are_stripped():
    table = read("member_id," + HEADER + ",note\n", "M1, 19 ,female,27.9,0,yes,southwest,first row\n")
    assert table.rows == [["M1", " 19 ", "female", "27.9", "0", "yes", "southwest", "first row"]]
    assert table.records[0]["age"] == "19"


def test_a_byte_order_mark_is_dropped_when_decoding():
    text = csv_io.csv_decode("\ufeff".encode() + (HEADER + "\n" + line(SAMPLE_PATIENT)).encode())
    assert read(*text.splitlines(keepends=True)).records == [text_records(SAMPLE_PATIENT)]


def test_blank_lines_are_skipped_and_line_numbers_count_them():
    table = read("\n", "  \n", HEADER + "\n", "\n", line(SAMPLE_PATIENT), ",,,,,\n", line(SECOND_PATIENT), ",,,,,\n")
    assert table.records == [text_records(SAMPLE_PATIENT), text_records(SECOND_PATIENT)]
    assert table.line_numbers == [5, 7]


def test_windows_line_ends_are_read():
    table = read(HEADER + "\r\n", line(SAMPLE_PATIENT).replace("\n", "\r\n"))
    assert table.records == [text_records(SAMPLE_PATIENT)]


# ---------------------------------------------------------------------------
# Files that cannot be scored: every problem, with its line number


def test_missing_columns_are_named_with_the_header_s_line_number():
    assert problems_of("\n", "\n", "age,sex,bmi,children,smoker\n", "19,female,27.9,0,yes\n") == [
        "line 3: the header lacks the column region. The first line must name the columns "
        "age, sex, bmi, children, smoker, region (separated by commas, in any order); "
        "it reads: 'age,sex,bmi,children,smoker'."
    ]


def test_several_missing_columns_are_all_named():
    [problem] = problems_of("age;sex;bmi;children;smoker;region\n", "19;female;27.9;0;yes;southwest\n")
    assert problem.startswith("line 1: the header lacks the columns age, sex, bmi, children, smoker, region.")


def test_a_column_named_twice_is_refused_whatever_its_case():
    assert problems_of("age,AGE," + HEADER[len("age,"):] + "\n", "19,20,female,27.9,0,yes,southwest\n") == [
        "line 1: the header names age more than once."
    ]


def test_rows_with_the_wrong_number_of_values_are_listed_with_the_other_bad_rows():
    with pytest.raises(csv_io.CsvFileError) as caught:
        read(
            HEADER + "\n",
            line(SAMPLE_PATIENT),
            "19,female,27.9,0,yes\n",
            "17,female,27.9,0,yes,southwest\n",
            "19,female,27.9,0,yes,southwest,extra\n",
        )
    assert caught.value.problems == [
        "line 3: has 5 values, but the header names 6 columns.",
        "line 4: age: The age must be between 18 and 100.",
        "line 5: has 7 values, but the header names 6 columns.",
    ]
    assert caught.value.bad_rows == 3


@pytest.mark.parametrize(
    "lines,problem",
    [
        (["age,sex\x00,bmi,children,smoker,region\n", "19,female,27.9,0,yes,southwest\n"], "line 1: this is not CSV text (it contains NUL characters, as binary files do)."),
        ([HEADER + "\n", "\n", "19,fe\x00male,27.9,0,yes,southwest\n"], "line 3: this is not CSV text (it contains NUL characters, as binary files do)."),
    ],
)
def test_nul_characters_mean_a_binary_file(lines, problem):
    assert problems_of(*lines) == [problem]


def test_a_field_longer_than_csv_allows_is_not_csv_text():
    [problem] = problems_of(HEADER + "\n", '"' + "9" * 200_000 + '",female,27.9,0,yes,southwest\n')
    assert problem.startswith("line 2: this is not CSV text (field larger than field limit")


def test_max_rows_counts_rows_not_blank_lines():
    rows = [line(SAMPLE_PATIENT), "\n", line(SECOND_PATIENT)]
    assert len(read(HEADER + "\n", *rows, max_rows=2).rows) == 2
    assert problems_of(HEADER + "\n", *rows, line(SAMPLE_PATIENT), max_rows=2) == [
        "The file has more than 2 rows; split it, or use `manage.py predict_csv`, which has no limit."
    ]


@pytest.mark.parametrize("lines", [[], ["\n"], [" \n", "\r\n", ",,,\n"]])
def test_an_empty_file_is_refused(lines):
    assert problems_of(*lines) == ["The file is empty: it needs a header line naming the columns, then one row a patient."]


def test_a_header_without_rows_is_refused():
    assert problems_of("\n", HEADER + "\n", ",,,,,\n") == ["The file has a header (line 2) but no rows to predict."]


def test_bytes_that_are_not_utf_8_are_refused_naming_the_byte():
    with pytest.raises(csv_io.CsvFileError) as caught:
        csv_io.csv_decode(b"age,sex\n19,f\xe9male\n")
    assert caught.value.problems == [
        "This is not a UTF-8 text CSV file (byte 13 cannot be read). Save it as CSV (UTF-8)."
    ]


# ---------------------------------------------------------------------------
# Writing the file back


def scored(*charges: str) -> list[str]:
    """Each row's charges as stored and written back (StoredPredictions.charges)."""
    return list(charges)


def test_the_file_comes_back_as_read_with_a_predicted_charges_column():
    table = read("member_id," + HEADER + "\n", "M1," + line(SAMPLE_PATIENT), "M2," + line(SECOND_PATIENT))
    out = io.StringIO()
    batch_files.csv_write(table, scored("17076.04", "4576.71"), out)
    assert out.getvalue() == (
        "member_id," + HEADER + ",predicted_charges\n"
        "M1," + line(SAMPLE_PATIENT).strip() + ",17076.04\n"
        "M2," + line(SECOND_PATIENT).strip() + ",4576.71\n"
    )


def test_an_existing_predicted_charges_column_is_replaced_where_it_is():
    table = read("Predicted_Charges," + HEADER + "\n", "1.00," + line(SAMPLE_PATIENT))
    assert batch_files.csv_text(table, scored("17076.04")).splitlines() == [
        "Predicted_Charges," + HEADER,
        "17076.04," + line(SAMPLE_PATIENT).strip(),
    ]


def test_a_count_of_predictions_other_than_the_rows_is_an_error():
    table = read(HEADER + "\n", line(SAMPLE_PATIENT))
    with pytest.raises(ValueError):
        batch_files.csv_text(table, scored("1.00", "2.00"))


# ---------------------------------------------------------------------------
# A file a chunk at a time (csv_chunks)


def test_csv_chunks_hands_over_the_rows_a_chunk_at_a_time_with_their_line_numbers():
    lines = [HEADER + "\n", *[line(SAMPLE_PATIENT)] * 4, "\n", line(SECOND_PATIENT)]
    chunks = list(csv_io.csv_chunks(lines, kind=batch_files.PATIENTS, size=2))
    assert [chunk.line_numbers for chunk in chunks] == [[2, 3], [4, 5], [7]]
    assert all(chunk.header == list(FEATURES) for chunk in chunks)
    assert chunks[-1].records == [text_records(SECOND_PATIENT)]


def test_csv_chunks_leaves_rows_with_the_wrong_number_of_values_to_its_reader():
    lines = [HEADER + "\n", line(SAMPLE_PATIENT), "19,female\n", line(SAMPLE_PATIENT)]
    chunks = list(csv_io.csv_chunks(lines, kind=batch_files.PATIENTS, size=2))
    assert [(chunk.line_numbers, chunk.problems) for chunk in chunks] == [
        ([2], [(3, "has 2 values, but the header names 6 columns.")]),
        ([4], []),
    ]


def test_csv_chunks_refuses_a_file_over_its_row_limit_when_it_gets_there():
    chunks = csv_io.csv_chunks([HEADER + "\n", *[line(SAMPLE_PATIENT)] * 3], kind=batch_files.PATIENTS, size=1, max_rows=2)
    assert len(next(chunks).rows) == 1 and len(next(chunks).rows) == 1
    with pytest.raises(csv_io.CsvFileError, match="more than 2 rows"):
        next(chunks)


def test_csv_read_is_every_chunk_of_csv_chunks_together():
    lines = [HEADER + "\n", *[line(SAMPLE_PATIENT), line(SECOND_PATIENT)] * 3]
    chunks = list(csv_io.csv_chunks(lines, kind=batch_files.PATIENTS, size=4))
    table = read(*lines)
    assert [row for chunk in chunks for row in chunk.rows] == table.rows
    assert [number for chunk in chunks for number in chunk.line_numbers] == table.line_numbers
