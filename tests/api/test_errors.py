"""Every error answer: JSON of one shape, the form's messages, the right status, and nothing stored."""

import json
from http import HTTPStatus

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from predictor import selectors, serving, services
from predictor.ml import artifacts
from predictor.models import Prediction

from . import URL, post_json


# ---------------------------------------------------------------------------
# Bad input: 4xx JSON, nothing stored


def assert_error(response, status, *, errors=None):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["detail"]
    if errors is not None:
        assert [(e["index"], e["field"], e["message"]) for e in body["errors"]] == errors
    assert Prediction.objects.count() == 0
    return body


@pytest.mark.django_db
def test_bad_fields_of_one_object_are_named_with_the_form_messages(client, valid_inputs):
    payload = {**valid_inputs, "age": 17, "region": "mars"}
    del payload["smoker"]

    assert_error(
        post_json(client, payload),
        HTTPStatus.BAD_REQUEST,
        errors=[
            (None, "age", "The age must be between 18 and 100."),
            (None, "smoker", "Choose the smoking status."),
            (None, "region", "Choose the region from: northeast, northwest, southeast, southwest."),
        ],
    )


@pytest.mark.django_db
def test_a_batch_with_bad_records_names_each_index_and_stores_nothing(client, valid_inputs):
    records = [valid_inputs, {**valid_inputs, "bmi": 71}, valid_inputs, {**valid_inputs, "children": 11, "sex": "x"}]

    body = assert_error(
        post_json(client, records),
        HTTPStatus.BAD_REQUEST,
        errors=[
            (1, "bmi", "The BMI must be between 10 and 70."),
            (3, "sex", "Choose the sex from: female, male."),
            (3, "children", "The number of children must be between 0 and 10."),
        ],
    )
    assert body["detail"] == "2 records are not valid; nothing was stored."


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("age", "42", "Enter the age as a whole number, like 42."),
        ("age", 42.5, "Enter the age as a whole number, like 42."),
        ("age", True, "Enter the age as a whole number, like 42."),
        ("bmi", "27.9", "Enter the BMI as a number, like 27.9."),
        ("children", [1], "Enter the number of children as a whole number, like 2."),
        ("sex", 1, "Choose the sex from: female, male."),
        ("smoker", True, "Choose the smoking status from: yes, no."),
        ("age", None, "Enter the age."),
    ],
)
def test_values_of_the_wrong_json_type_are_refused(client, valid_inputs, field, value, message):
    assert_error(
        post_json(client, {**valid_inputs, field: value}), HTTPStatus.BAD_REQUEST, errors=[(None, field, message)]
    )


@pytest.mark.django_db
@pytest.mark.parametrize("number", ["1e400", "1" + "0" * 400])
def test_a_number_too_large_for_a_float_is_refused(client, valid_inputs, number):
    raw = json.dumps(valid_inputs).replace("27.9", number)
    response = client.post(URL, raw, content_type="application/json")
    assert_error(response, HTTPStatus.BAD_REQUEST, errors=[(None, "bmi", "Enter the BMI as a number, like 27.9.")])


@pytest.mark.django_db
def test_a_huge_whole_number_is_out_of_range_not_an_error(client, valid_inputs):
    raw = json.dumps(valid_inputs).replace('"age": 19', '"age": 1' + "0" * 400)
    response = client.post(URL, raw, content_type="application/json")
    assert_error(response, HTTPStatus.BAD_REQUEST, errors=[(None, "age", "The age must be between 18 and 100.")])


@pytest.mark.django_db
def test_a_batch_reports_type_mistakes_and_range_errors_together(client, valid_inputs):
    records = [{**valid_inputs, "age": "19", "region": "mars"}, {**valid_inputs, "bmi": 5}, "not a record"]

    assert_error(
        post_json(client, records),
        HTTPStatus.BAD_REQUEST,
        errors=[
            (0, "age", "Enter the age as a whole number, like 42."),
            (0, "region", "Choose the region from: northeast, northwest, southeast, southwest."),
            (1, "bmi", "The BMI must be between 10 and 70."),
            (2, None, services.NOT_A_RECORD),
        ],
    )


@pytest.mark.django_db
def test_integral_floats_are_whole_numbers(client, valid_inputs):
    response = post_json(client, {**valid_inputs, "age": 19.0, "children": 2.0})
    assert response.status_code == HTTPStatus.CREATED
    assert (response.json()["age"], response.json()["children"]) == (19, 2)


@pytest.mark.django_db
@pytest.mark.parametrize("payload", [[], "a patient", 42, None, True])
def test_a_body_that_is_neither_an_object_nor_a_non_empty_array_is_refused(client, payload):
    body = assert_error(post_json(client, payload), HTTPStatus.BAD_REQUEST, errors=[])
    assert "array of 1 to 10,000 objects" in body["detail"]


def test_more_than_ten_thousand_records_are_refused_even_with_a_token(client, valid_inputs, bearer):
    body = assert_error(post_json(client, [valid_inputs] * 10_001, **bearer), HTTPStatus.BAD_REQUEST, errors=[])
    assert "10,000" in body["detail"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw", ['{"age": 19,', "", "{'age': 19}", '{"age": NaN}', '{"bmi": Infinity}', "[" * 100_000, b"\xff\xfe\x00"]
)
def test_malformed_json_answers_400(client, raw):
    # The test client leaves out the content type of an empty body unless it is given explicitly.
    response = client.post(URL, raw, content_type="application/json", CONTENT_TYPE="application/json")
    body = assert_error(response, HTTPStatus.BAD_REQUEST)
    assert body["detail"].startswith("The body is not valid JSON")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""]
)
def test_a_body_that_is_not_declared_json_answers_415(client, valid_inputs, content_type):
    response = client.generic("POST", URL, json.dumps(valid_inputs), content_type=content_type)
    body = assert_error(response, HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    assert "Content-Type: application/json" in body["detail"]


@pytest.mark.django_db
def test_json_with_a_charset_is_accepted(client, valid_inputs):
    response = client.post(URL, json.dumps(valid_inputs), content_type="application/json; charset=utf-8")
    assert response.status_code == HTTPStatus.CREATED


@pytest.mark.django_db
def test_a_body_over_the_configured_size_answers_413(client, valid_inputs, settings):
    settings.PREDICTOR_API_MAX_BODY_BYTES = 1000
    payload = [valid_inputs] * 20
    assert len(json.dumps(payload)) > 1000

    body = assert_error(post_json(client, payload), HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
    assert "1,000 bytes" in body["detail"]
    assert post_json(client, payload[:5]).status_code == HTTPStatus.CREATED


@pytest.mark.django_db
def test_a_body_over_djangos_upload_limit_but_within_the_apis_is_read(client, valid_inputs, settings):
    # Django's own limit on request.body (2.5 MB by default) would answer a bare 400.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    assert len(json.dumps([valid_inputs] * 3)) > 100
    assert post_json(client, [valid_inputs] * 3).status_code == HTTPStatus.CREATED


@pytest.mark.django_db
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(client, valid_inputs, settings):
    settings.PREDICTOR_API_MAX_BODY_BYTES = 1000
    response = client.generic(
        "POST", URL, json.dumps(valid_inputs), content_type="application/json", CONTENT_LENGTH=str(10**9)
    )
    assert_error(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


@pytest.mark.django_db
@pytest.mark.parametrize("batch", [False, True])
def test_a_database_failure_answers_503_json_not_500(client, valid_inputs, locked_prediction_table, batch):
    response = post_json(client, [valid_inputs] if batch else valid_inputs)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["detail"] == "The database is not available; nothing was stored."


@pytest.mark.django_db
def test_a_database_failure_reading_the_history_answers_503_json(client, bearer, monkeypatch):
    def broken(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(selectors, "prediction_history", broken)
    response = client.get(URL, **bearer)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"detail": "The database is not available; nothing was stored.", "errors": []}


@pytest.mark.django_db
def test_a_validation_error_of_the_service_answers_400_naming_the_field(client, valid_inputs, monkeypatch):
    def refused(**kwargs):
        raise ValidationError({"source": ["Value 'api' is not a valid choice."]})

    monkeypatch.setattr(services, "prediction_create_cleaned", refused)
    body = assert_error(
        post_json(client, valid_inputs),
        HTTPStatus.BAD_REQUEST,
        errors=[(None, "source", "Value 'api' is not a valid choice.")],
    )
    assert body["detail"] == "The input is not valid; nothing was stored."


@pytest.mark.django_db
def test_an_unavailable_model_answers_503_json(client, valid_inputs, monkeypatch):
    def missing(*args, **kwargs):
        raise artifacts.ModelArtifactError("gone")

    monkeypatch.setattr(serving, "get_model", missing)
    response = post_json(client, [valid_inputs])
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["detail"] == "The prediction model is not available right now."
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_an_unsupported_method_answers_405(client):
    assert client.delete(URL).status_code == HTTPStatus.METHOD_NOT_ALLOWED

# ---------------------------------------------------------------------------
# Reading the history: unknown ids and bad parameters


@pytest.mark.django_db
@pytest.mark.parametrize("prediction_id", ["999999", "-1", str(2**70)])
def test_an_unknown_prediction_answers_404_json(client, bearer, prediction_id):
    response = client.get(f"{URL}/{prediction_id}", **bearer)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json()["detail"] == f"There is no prediction {prediction_id}."


@pytest.mark.django_db
def test_a_prediction_id_that_is_not_a_number_answers_400(client, bearer):
    response = client.get(f"{URL}/abc", **bearer)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response.json()["errors"][0]["field"] == "prediction_id"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"offset": -1}, "offset"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2024-13-01T00:00:00Z"}, "until"),
    ],
)
def test_bad_history_parameters_answer_400_naming_them(client, bearer, params, field):
    response = client.get(URL, params, **bearer)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert [error["field"] for error in response.json()["errors"]] == [field]


