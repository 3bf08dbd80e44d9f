"""batches.views: the staff page that scores a CSV file of patients, in the admin."""

import csv
import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile

from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT
from predictor.features import FEATURES
from predictor.models import Batch, Prediction
from tests import golden

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------
# The staff page that scores a CSV file

BATCH_URL = "/admin/predictor/batch/upload/"
HEADER = "member_id,age,sex,bmi,children,smoker,region"


def csv_values(patient: dict, columns=FEATURES, separator: str = ",") -> str:
    return separator.join(str(patient[name]) for name in columns)


GOOD_ROWS = [f"M1,{csv_values(SAMPLE_PATIENT)}", f"M2,{csv_values(SECOND_PATIENT)}", "M3,64,female,40,3,no,southeast"]


def upload(client, text: str | bytes, name: str = "members.csv"):
    data = text.encode() if isinstance(text, str) else text
    return client.post(BATCH_URL, {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def csv_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def assert_rejected(response, *expected_problems: str) -> str:
    assert response.status_code == HTTPStatus.BAD_REQUEST
    page = response.content.decode()
    assert "Nothing was stored." in page
    for problem in expected_problems:
        assert problem in response.context["problems"], response.context["problems"]
    assert Prediction.objects.count() == 0
    assert Batch.objects.count() == 0
    return page


def test_anonymous_visitors_are_sent_to_the_staff_login(client):
    response = client.get(BATCH_URL)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith("/admin/login/")


def test_staff_without_the_add_batch_permission_are_forbidden(client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get(BATCH_URL).status_code == HTTPStatus.FORBIDDEN

    clerk.user_permissions.add(Permission.objects.get(codename="add_batch"))
    client.force_login(django_user_model.objects.get(pk=clerk.pk))
    assert client.get(BATCH_URL).status_code == HTTPStatus.OK


def test_the_page_states_its_limits(admin_client, settings):
    settings.PREDICTOR_BATCH_PAGE_MAX_ROWS = 20_000
    settings.PREDICTOR_BATCH_PAGE_MAX_BYTES = 4 * 1024 * 1024
    page = admin_client.get(BATCH_URL).content.decode()
    assert "20,000 rows" in page and "4.0\xa0MB" in page
    assert "manage.py predict_csv" in page


def test_a_good_file_comes_back_with_predicted_charges_and_is_stored_as_one_batch(admin_client, admin_user, loaded_model):
    response = upload(admin_client, csv_text(HEADER, *GOOD_ROWS))

    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="members-predicted.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == [*HEADER.split(","), "predicted_charges"]
    assert [row[:-1] for row in rows[1:]] == [line.split(",") for line in GOOD_ROWS]

    batch = Batch.objects.get()
    assert (batch.file_name, batch.row_count, batch.created_by) == ("members.csv", 3, admin_user)
    assert response["X-Batch-Id"] == str(batch.pk)
    stored = list(Prediction.objects.filter(batch=batch).order_by("id"))
    assert [p.source for p in stored] == [Prediction.Source.BATCH] * 3
    assert [str(p.predicted_charges) for p in stored] == [row[-1] for row in rows[1:]]
    expected = [
        golden.answer_for(dict(zip(FEATURES, line.split(",")[1:])), loaded_model.name).charges for line in GOOD_ROWS
    ]
    assert [Decimal(row[-1]) for row in rows[1:]] == expected  # tests/golden/predictions.csv


def test_columns_may_come_in_any_order_with_spaces_a_bom_and_crlf_and_blank_lines(admin_client):
    values = csv_values(SAMPLE_PATIENT, ("region", "smoker", "children", "bmi", "sex", "age"))
    text = f"\ufeffRegion, Smoker ,children,BMI,sex,AGE\r\n{values}\r\n\r\n,,,,,\r\n"
    response = upload(admin_client, text)
    assert response.status_code == HTTPStatus.OK
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["Region", " Smoker ", "children", "BMI", "sex", "AGE", "predicted_charges"]
    assert len(rows) == 2
    assert Prediction.objects.get().region == SAMPLE_PATIENT["region"]


def test_an_existing_predicted_charges_column_is_replaced(admin_client):
    response = upload(admin_client, csv_text(",".join([*FEATURES, "predicted_charges"]), csv_values(SAMPLE_PATIENT) + ",1.00"))
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][-1] == "predicted_charges" and len(rows[0]) == 7
    assert rows[1][-1] == str(Prediction.objects.get().predicted_charges)


def test_bad_rows_are_listed_by_line_with_the_form_messages(admin_client):
    text = csv_text(HEADER, GOOD_ROWS[0], "M2,17,male,22.7,0,no,northwest", GOOD_ROWS[1], "M4,40,robot,22.7,0,maybe,northwest")
    page = assert_rejected(
        upload(admin_client, text),
        "line 3: age: The age must be between 18 and 100.",
        "line 5: sex: Choose the sex from: female, male.",
        "line 5: smoker: Choose the smoking status from: yes, no.",
    )
    assert len(admin_client.post(BATCH_URL).context["form"].errors) == 1  # a form without a file is refused too
    assert "2 bad rows" in page


def test_a_row_with_the_wrong_number_of_values_is_named_with_the_other_problems(admin_client):
    without_region = GOOD_ROWS[0].rsplit(",", 1)[0]
    text = csv_text(HEADER, without_region, "M2,abc,male,22.7,0,no,northwest")
    assert_rejected(
        upload(admin_client, text),
        "line 2: has 6 values, but the header names 7 columns.",
        "line 3: age: Enter the age as a whole number, like 42.",
    )


def test_missing_columns_are_named(admin_client):
    assert_rejected(
        upload(admin_client, csv_text(";".join(FEATURES), csv_values(SAMPLE_PATIENT, separator=";"))),
    )
    response = upload(admin_client, csv_text("age,sex,weight,children", "19,female,80,0"))
    assert_rejected(response)
    assert response.context["problems"][0].startswith("line 1: the header lacks the columns bmi, smoker, region.")


def test_a_repeated_column_is_refused(admin_client):
    assert_rejected(
        upload(admin_client, csv_text("age," + ",".join(FEATURES), "20," + csv_values(SAMPLE_PATIENT))),
        "line 1: the header names age more than once.",
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", "The file is empty: it needs a header line naming the columns, then one row a patient."),
        (b"\n\n", "The file is empty: it needs a header line naming the columns, then one row a patient."),
        (csv_text("age,sex,bmi,children,smoker,region").encode(), "The file has a header (line 1) but no rows to predict."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "This is not a UTF-8 text CSV file (byte 1 cannot be read). Save it as CSV (UTF-8)."),
        (b"age,sex,bmi,children,smoker,region\n19,fe\x00male,27.9,0,yes,southwest\n", "line 2: this is not CSV text (it contains NUL characters, as binary files do)."),
    ],
)
def test_empty_files_and_files_that_are_not_csv_are_refused(admin_client, content, problem):
    assert_rejected(upload(admin_client, content, name="data.csv"), problem)


def test_a_file_with_more_rows_than_the_page_takes_is_refused(admin_client, settings):
    settings.PREDICTOR_BATCH_PAGE_MAX_ROWS = 2
    assert_rejected(
        upload(admin_client, csv_text(HEADER, *GOOD_ROWS)),
        "The file has more than 2 rows; split it, or use `manage.py predict_csv`, which has no limit.",
    )


def test_a_file_larger_than_the_page_takes_is_refused_before_it_is_read(admin_client, settings):
    settings.PREDICTOR_BATCH_PAGE_MAX_BYTES = 100
    text = csv_text(HEADER, *GOOD_ROWS)
    response = upload(admin_client, text)
    assert_rejected(response)
    assert response.context["problems"][0].startswith(
        f"The file is {len(text)}\xa0bytes; this page takes files up to 100\xa0bytes."
    )


def test_only_the_first_hundred_problems_are_listed_with_a_count_of_the_rest(admin_client):
    text = csv_text(HEADER, *[f"M{i},17,female,27.9,0,yes,southwest" for i in range(150)])
    page = assert_rejected(upload(admin_client, text))
    assert len(upload(admin_client, text).context["problems"]) == 100
    assert "and 50 more problems" in page
    assert "150 bad rows" in page
