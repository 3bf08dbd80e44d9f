"""views: the public form at / with its result page, the staff page that scores a CSV file, and /healthz."""

import csv
import io
from decimal import Decimal
import re
from http import HTTPStatus

import pytest
from django.apps import apps
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from predictor import selectors, serving
from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT
from predictor.features import FEATURES
from predictor.models import Batch, Prediction
from tests import golden
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------
# The form and the result page

BAD_INPUTS = [
    # (field, submitted value, part of the message shown at the field)
    ("age", "forty", "Enter the age as a whole number"),
    ("age", "30.5", "Enter the age as a whole number"),
    ("age", "17", "The age must be between 18 and 100."),
    ("age", "101", "The age must be between 18 and 100."),
    ("age", "-5", "The age must be between 18 and 100."),
    ("age", "", "Enter the age."),
    ("age", "9" * 5000, "Enter the age as a whole number"),
    ("bmi", "abc", "Enter the BMI as a number"),
    ("bmi", "nan", "Enter the BMI as a number"),
    ("bmi", "NaN", "Enter the BMI as a number"),
    ("bmi", "inf", "Enter the BMI as a number"),
    ("bmi", "-Infinity", "Enter the BMI as a number"),
    ("bmi", "1e400", "Enter the BMI as a number"),
    ("bmi", "9.99", "The BMI must be between 10 and 70."),
    ("bmi", "70.01", "The BMI must be between 10 and 70."),
    ("bmi", "1" * 1000 + ".5", "Enter the BMI as a number"),
    ("children", "2.5", "Enter the number of children as a whole number"),
    ("children", "11", "The number of children must be between 0 and 10."),
    ("children", "-1", "The number of children must be between 0 and 10."),
    ("sex", "other", "Choose the sex from: female, male."),
    ("sex", "Female", "Choose the sex from: female, male."),
    ("smoker", "sometimes", "Choose the smoking status from: yes, no."),
    ("region", "north", "Choose the region from: northeast, northwest, southeast, southwest."),
    ("region", "", "Choose the region."),
]


def test_get_shows_every_field_with_its_label(client):
    response = client.get(reverse("predictor:predict"))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    for name in ("age", "sex", "bmi", "children", "smoker", "region"):
        assert f'name="{name}"' in html
    assert 'type="number"' in html and 'type="radio"' in html and "<select" in html
    assert "Body mass index (BMI)" in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.parametrize("field,value,message", BAD_INPUTS, ids=[f"{f}={v[:12]!r}" for f, v, _ in BAD_INPUTS])
def test_bad_input_shows_its_message_at_the_field_and_stores_nothing(client, valid_inputs, field, value, message):
    response = client.post(reverse("predictor:predict"), {**valid_inputs, field: value})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert f'id="error-{field}"' in html
    assert message in html
    assert Prediction.objects.count() == 0


@pytest.mark.parametrize("missing", ["age", "sex", "bmi", "children", "smoker", "region"])
def test_missing_field_is_reported_and_nothing_is_stored(client, valid_inputs, missing):
    data = {key: value for key, value in valid_inputs.items() if key != missing}
    response = client.post(reverse("predictor:predict"), data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert f'id="error-{missing}"' in response.content.decode()
    assert Prediction.objects.count() == 0


def test_valid_submission_stores_one_row_and_redirects_to_its_result(client, valid_inputs, loaded_model):
    response = client.post(reverse("predictor:predict"), valid_inputs)
    assert response.status_code == HTTPStatus.FOUND
    [row] = Prediction.objects.all()
    assert {name: getattr(row, name) for name in FEATURES} == valid_inputs
    assert row.source == Prediction.Source.WEB
    assert row.model_version.name == loaded_model.name
    assert row.model_version.active
    assert row.predicted_charges == Decimal("17076.04")  # tests/golden/predictions.csv

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == HTTPStatus.OK
    assert "$17,076<" in html  # whole dollars on the page; the API keeps cents
    assert str(valid_inputs["bmi"]) in html and valid_inputs["region"].title() in html
    assert reverse("predictor:predict") in html  # start again
    assert "extrapolation" not in html
    assert "Likely between <strong>$16,510</strong> and <strong>$17,290</strong>" in html  # to the nearest $10
    assert row.predicted_charges_low < row.predicted_charges < row.predicted_charges_high
    repeated = loaded_model.card["interval_calibration"]
    group = repeated["groups"]["smoker_not_obese"]
    assert (
        f"Over {repeated['repetitions']} repeated tests on past patients the model never saw, it held the actual "
        f"charges of {group['coverage'] * 100:.0f}% of the smokers with a BMI of 30 or less ({group['patients']} patients in the data)."
    ) in html


def test_reloading_the_result_page_does_not_store_again(client, valid_inputs):
    location = client.post(reverse("predictor:predict"), valid_inputs)["Location"]
    for _ in range(3):
        assert client.get(location).status_code == HTTPStatus.OK
    assert Prediction.objects.count() == 1


def test_result_link_cannot_be_guessed(client, valid_inputs):
    client.post(reverse("predictor:predict"), valid_inputs)
    row = Prediction.objects.get()
    assert client.get(reverse("predictor:result", kwargs={"token": str(row.pk)})).status_code == HTTPStatus.NOT_FOUND


def test_a_result_link_works_for_an_hour_then_answers_404(client, valid_inputs, signing_clock):
    location = client.post(reverse("predictor:predict"), valid_inputs)["Location"]
    signing_clock.advance(selectors.RESULT_MAX_AGE_SECONDS - 5)
    assert client.get(location).status_code == HTTPStatus.OK
    signing_clock.advance(10)
    response = client.get(location)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "$17,076" not in response.content.decode()


def test_a_result_link_signed_for_another_purpose_answers_404(client, valid_inputs):
    from django.core import signing

    client.post(reverse("predictor:predict"), valid_inputs)
    row = Prediction.objects.get()
    forged = signing.dumps(row.pk, salt="not-the-result-salt")
    assert client.get(reverse("predictor:result", kwargs={"token": forged})).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "changes,flagged",
    [({"age": 70}, ["Age 70"]), ({"bmi": 60}, ["BMI 60"]), ({"children": 8, "age": 65}, ["Age 65", "Children covered 8"])],
)
def test_inputs_outside_the_training_range_are_accepted_but_flagged(client, valid_inputs, changes, flagged):
    response = client.post(reverse("predictor:predict"), {**valid_inputs, **changes}, follow=True)
    html = response.content.decode()
    assert "This estimate is an extrapolation." in html
    for text in flagged:
        assert text in html
    assert Prediction.objects.count() == 1


def test_training_range_edges_are_not_flagged(client, valid_inputs):
    response = client.post(
        reverse("predictor:predict"), {**valid_inputs, "age": 64, "bmi": 53.13, "children": 5}, follow=True
    )
    assert "extrapolation" not in response.content.decode()


def test_csrf_protection_is_on(valid_inputs):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(reverse("predictor:predict"), valid_inputs)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Prediction.objects.count() == 0


def test_database_failure_gives_503_and_no_number(client, valid_inputs, locked_prediction_table):
    response = client.post(reverse("predictor:predict"), valid_inputs)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    html = response.content.decode()
    assert "could not record your estimate" in html
    assert "$" not in html


def test_other_methods_are_refused_by_the_form(client):
    assert client.put(reverse("predictor:predict")).status_code == HTTPStatus.METHOD_NOT_ALLOWED


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


# ---------------------------------------------------------------------------
# /healthz: ready only when the database answers and the verified model is loaded


def test_ready_when_database_and_model_are(client, loaded_model):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "model": "ok",
        "model_version": loaded_model.name,
    }


def every_table_s_row_count() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.mark.no_active_model
def test_on_a_freshly_migrated_database_it_answers_503_naming_that_no_version_is_active_and_writes_nothing(client):
    before = every_table_s_row_count()
    assert before["predictor.ModelVersion"] == 0
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["model"].startswith("error: No model version is active.")
    assert "activate_model" in body["model"]
    statements = [query["sql"].lstrip().split(None, 1)[0].upper() for query in captured.captured_queries]
    assert statements and not {"INSERT", "UPDATE", "DELETE"} & set(statements), statements
    assert every_table_s_row_count() == before


@pytest.mark.django_db(transaction=True)
def test_unavailable_when_the_database_does_not_answer(client, loaded_model):
    """A real unreachable server: point the connection at a closed port."""
    original = dict(connection.settings_dict)
    connection.close()
    connection.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        response = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(original)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"].startswith("error")
    assert body["model"] == "ok"


def test_unavailable_when_the_model_artifact_is_missing(client, settings, tmp_path):
    settings.PREDICTOR_PIPELINE_PATH = tmp_path / "missing.pkl"
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["model"].startswith("error: The model artifact")
    assert response.json()["database"] == "ok"


@pytest.mark.no_active_model
def test_unavailable_when_the_active_version_has_no_artifact(client):
    ModelVersionFactory(name="vanished-model", active=True)
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "vanished-model.pkl is missing" in response.json()["model"]


def test_names_the_activated_version(client):
    serving.model_version_activate(name="tutorial-lr-v1")
    assert client.get("/healthz").json()["model_version"] == "tutorial-lr-v1"


# ---------------------------------------------------------------------------
# The result page explains: what drives the estimate, what if, in whole dollars


def result_html(client, inputs) -> str:
    return client.post(reverse("predictor:predict"), inputs, follow=True).content.decode()


def test_the_result_page_shows_what_drives_the_estimate_as_bars_and_sentences(client, valid_inputs):
    html = result_html(client, valid_inputs)
    assert 'id="drivers"' in html and html.count('class="driver"') == 6
    assert re.search(r"Smoking adds about \$\d{1,2},\d00 a year compared with a typical patient\.", html)
    assert '<svg class="bar"' in html and 'aria-hidden="true"' in html and "<script" not in html
    # Machines read the unrounded figures in data attributes, never localised.
    base = float(re.search(r'data-base-value="([\d.]+)"', html)[1])
    shares = [float(value) for value in re.findall(r'data-dollars="(-?[\d.]+)"', html)]
    assert abs(base + sum(shares) - float(Prediction.objects.get().predicted_charges)) < 0.05


def test_the_result_page_offers_what_ifs_worded_as_associations(client, valid_inputs):
    html = result_html(client, valid_inputs)
    assert 'id="what-if-not_smoking"' in html and 'id="what-if-bmi_25"' in html
    assert "an association, not a promise" in html
    assert Prediction.objects.count() == 1


def test_a_non_smoker_with_a_lean_bmi_sees_no_what_if(client, valid_inputs):
    html = result_html(client, {**valid_inputs, "smoker": "no", "bmi": 22})
    assert 'id="what-if"' not in html


def test_the_honesty_note_uses_repeated_splits_with_the_groups_patients_when_the_card_has_them(client, valid_inputs):
    from predictor.models import ModelVersion

    version = ModelVersion.objects.get(active=True)
    version.card = {
        **version.card,
        "interval_calibration": {"repetitions": 25, "groups": {"smoker_not_obese": {"coverage": 0.842, "patients": 126}}},
    }
    version.save()
    html = result_html(client, valid_inputs)
    assert (
        "Over 25 repeated tests on past patients the model never saw, it held the actual charges of 84% of the "
        "smokers with a BMI of 30 or less (126 patients in the data)."
    ) in html
