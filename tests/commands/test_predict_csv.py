"""manage.py predict_csv, through call_command."""

import csv
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT
from predictor.features import FEATURES
from predictor.models import Batch, Prediction
from tests import golden
from tests.factories import random_valid_rows

HEADER = "member_id," + ",".join(FEATURES)
PATIENTS = [SAMPLE_PATIENT, SECOND_PATIENT]
ROWS = [f"M{number}," + ",".join(str(patient[name]) for name in FEATURES) for number, patient in enumerate(PATIENTS, 1)]


def write(path, *lines: str):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("predict_csv", *map(str, args), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_writes_the_file_back_with_predicted_charges_and_stores_one_batch(tmp_path, loaded_model):
    source = write(tmp_path / "members.csv", HEADER, *ROWS)
    target = tmp_path / "scored.csv"

    _, err = run(source, target)

    rows = list(csv.reader(target.open(encoding="utf-8")))
    assert rows[0] == [*HEADER.split(","), "predicted_charges"]
    assert [row[:-1] for row in rows[1:]] == [line.split(",") for line in ROWS]
    expected = [golden.answer_for(patient, loaded_model.name).charges for patient in PATIENTS]
    assert [Decimal(row[-1]) for row in rows[1:]] == expected  # tests/golden/predictions.csv
    batch = Batch.objects.get()
    assert (batch.file_name, batch.row_count, batch.created_by) == ("members.csv", 2, None)
    assert Prediction.objects.filter(batch=batch, source=Prediction.Source.BATCH).count() == 2
    assert f"2 rows scored as batch {batch.pk}" in err
    assert "checking rows" in err and "storing" in err  # the progress bars


@pytest.mark.django_db
def test_writes_to_standard_output_with_a_dash_and_records_the_user(tmp_path, admin_user):
    source = write(tmp_path / "members.csv", HEADER, *ROWS)
    out, _ = run(source, "-", "--user", admin_user.username, "--no-progress")
    assert out.splitlines()[0] == HEADER + ",predicted_charges"
    assert len(out.splitlines()) == 3
    assert Batch.objects.get().created_by == admin_user


@pytest.mark.django_db
def test_a_file_with_bad_rows_is_rejected_with_line_numbers_and_nothing_is_stored(tmp_path):
    source = write(tmp_path / "members.csv", HEADER, ROWS[0], "M2,33,male,80,0,no,northwest", "", "M4,33,male,22,12,no,mars")
    target = tmp_path / "scored.csv"

    with pytest.raises(CommandError) as caught:
        run(source, target, "--no-progress")

    message = str(caught.value)
    assert "2 bad rows; nothing stored" in message
    assert "line 3: bmi: The BMI must be between 10 and 70." in message
    assert "line 5: children: The number of children must be between 0 and 10." in message
    assert "line 5: region: Choose the region from: northeast, northwest, southeast, southwest." in message
    assert not target.exists()
    assert Prediction.objects.count() == 0 and Batch.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "The file is empty"),
        (b"age,sex,bmi\n19,female,27.9\n", "line 1: the header lacks the columns children, smoker, region."),
        (b"\xff\xd8\xff\xe0 a JPEG", "this is not CSV text (it is not UTF-8 text)"),
    ],
)
def test_files_that_are_empty_or_not_csv_are_rejected(tmp_path, content, problem):
    source = tmp_path / "in.csv"
    source.write_bytes(content)
    with pytest.raises(CommandError, match="nothing stored") as caught:
        run(source, tmp_path / "out.csv", "--no-progress")
    assert problem in str(caught.value)
    assert Prediction.objects.count() == 0


def test_a_missing_input_file_is_an_error(tmp_path):
    with pytest.raises(CommandError, match="is not a file"):
        run(tmp_path / "nope.csv", tmp_path / "out.csv")


def test_the_output_may_not_overwrite_the_input(tmp_path):
    source = write(tmp_path / "members.csv", HEADER, *ROWS)
    with pytest.raises(CommandError, match="another file"):
        run(source, source)


@pytest.mark.django_db
def test_has_no_row_limit_of_the_page(tmp_path, settings):
    settings.PREDICTOR_BATCH_PAGE_MAX_ROWS = 1
    source = write(tmp_path / "members.csv", HEADER, *ROWS * 50)
    run(source, tmp_path / "out.csv", "--no-progress")
    assert Batch.objects.get().row_count == 100


# ---------------------------------------------------------------------------
# A file a chunk at a time: all or nothing, the same answer as one chunk

GOOD = [f"M{number}," + ",".join(str(row[name]) for name in FEATURES)
        for number, row in enumerate(random_valid_rows(11, seed=25), 1)]


def stored_rows() -> list[tuple]:
    return list(Prediction.objects.order_by("id").values_list(*FEATURES, "predicted_charges", "predicted_charges_low",
                                                              "predicted_charges_high", "source", "model_version"))


@pytest.mark.django_db
def test_a_bad_row_in_the_last_chunk_undoes_the_chunks_stored_before_it(tmp_path):
    source = write(tmp_path / "members.csv", HEADER, *GOOD, "M12,40,male,22.7,0,no,mars")
    target = write(tmp_path / "scored.csv", "an older answer")

    with pytest.raises(CommandError) as caught:
        run(source, target, "--no-progress", "--chunk-rows", "3")  # four chunks: 3, 3, 3 good rows, then 2 and the bad one

    assert str(caught.value).endswith(
        "(1 bad row; nothing stored):\nline 13: region: Choose the region from: northeast, northwest, southeast, southwest."
    )
    assert Prediction.objects.count() == 0 and Batch.objects.count() == 0
    assert target.read_text() == "an older answer\n"  # left as it was
    assert sorted(path.name for path in tmp_path.iterdir()) == ["members.csv", "scored.csv"]  # no temporary file left


@pytest.mark.django_db
def test_after_a_bad_row_the_rest_of_the_file_is_still_checked_and_every_problem_listed(tmp_path):
    source = write(tmp_path / "members.csv", HEADER, "M0,17,male,22.7,0,no,northwest", *GOOD, "M12,40,male", "M13,40,male,22.7,0,no,mars")
    with pytest.raises(CommandError) as caught:
        run(source, tmp_path / "scored.csv", "--no-progress", "--chunk-rows", "3")
    assert str(caught.value).split("\n")[1:] == [
        "line 2: age: The age must be between 18 and 100.",
        "line 14: has 3 values, but the header names 7 columns.",
        "line 15: region: Choose the region from: northeast, northwest, southeast, southwest.",
    ]
    assert "3 bad rows; nothing stored" in str(caught.value)
    assert Prediction.objects.count() == 0 and Batch.objects.count() == 0


@pytest.mark.django_db
def test_a_bad_row_in_the_last_chunk_writes_nothing_to_standard_output(tmp_path):
    source = write(tmp_path / "members.csv", HEADER, *GOOD, "M12,40,male,22.7,0,no")
    out = StringIO()
    with pytest.raises(CommandError, match="line 13: has 6 values, but the header names 7 columns."):
        call_command("predict_csv", str(source), "-", "--no-progress", "--chunk-rows", "4", stdout=out, stderr=StringIO())
    assert out.getvalue() == "" and Prediction.objects.count() == 0 and Batch.objects.count() == 0


@pytest.mark.django_db
def test_a_file_in_many_chunks_stores_and_writes_exactly_what_one_chunk_does(tmp_path):
    source = write(tmp_path / "members.csv", HEADER, *GOOD, "", GOOD[0])
    answers = {}
    for chunk_rows in ("1000", "3"):
        run(source, tmp_path / f"scored-{chunk_rows}.csv", "--no-progress", "--chunk-rows", chunk_rows)
        batch = Batch.objects.get()
        assert batch.row_count == 12
        answers[chunk_rows] = ((tmp_path / f"scored-{chunk_rows}.csv").read_text(), stored_rows())
        Prediction.objects.all().delete()
        batch.delete()
    assert answers["3"] == answers["1000"]
    assert len(answers["3"][0].splitlines()) == 13
