"""The JSON API: create one or many predictions, read the history as staff, and every bad input."""

import json
import re
from datetime import timedelta
from http import HTTPStatus
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.core.management import CommandError, call_command
from django.db import DatabaseError
from django.utils import timezone

from predictor import api, serving, services, tokens
from predictor.ml import artifacts, predict
from predictor.forms import LIMITS
from predictor.models import ApiToken, Prediction

from .factories import PredictionFactory

URL = "/api/v1/predictions"
INPUTS = ("age", "sex", "bmi", "children", "smoker", "region")


def post_json(client, payload, **extra):
    return client.post(URL, json.dumps(payload), content_type="application/json", **extra)


def inputs_of(row: dict) -> dict:
    return {name: row[name] for name in INPUTS}


@pytest.fixture
def other_patient() -> dict:
    return {"age": 33, "sex": "male", "bmi": 22.705, "children": 0, "smoker": "no", "region": "northwest"}


@pytest.fixture
def staff_token(db, admin_user) -> str:
    """A token of a superuser (staff with every permission)."""
    return tokens.api_token_create(user=admin_user, name="tests")[1]


@pytest.fixture
def bearer(staff_token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {staff_token}"}


# ---------------------------------------------------------------------------
# Creating predictions


@pytest.mark.django_db
def test_one_object_is_predicted_stored_and_echoed_with_201(client, valid_inputs, loaded_model):
    response = post_json(client, valid_inputs)

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    row = Prediction.objects.get()
    assert body["id"] == row.pk
    assert inputs_of(body) == valid_inputs
    [expected] = predict.predict_charges([valid_inputs], model=loaded_model)
    assert body["predicted_charges"] == pytest.approx(expected, abs=0.005)
    assert body["predicted_charges"] == float(row.predicted_charges)
    assert body["model_version"] == loaded_model.name
    assert body["created_at"].startswith(row.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["source"] == row.source == Prediction.Source.API
    assert body["extrapolated"] == []
    assert body["predicted_charges_low"] == float(row.predicted_charges_low)
    assert body["predicted_charges_high"] == float(row.predicted_charges_high)
    assert body["predicted_charges_low"] < body["predicted_charges"] < body["predicted_charges_high"]


@pytest.mark.django_db
def test_one_object_says_which_inputs_are_extrapolated(client, valid_inputs):
    response = post_json(client, {**valid_inputs, "age": 80})
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["extrapolated"] == ["age"]


@pytest.mark.django_db
def test_an_array_is_a_batch_answered_in_input_order(client, valid_inputs, other_patient, loaded_model):
    records = [valid_inputs, other_patient, {**valid_inputs, "age": 64, "smoker": "no"}]

    response = post_json(client, records)

    assert response.status_code == HTTPStatus.CREATED
    answers = response.json()["predictions"]
    assert [inputs_of(answer) for answer in answers] == records
    expected = predict.predict_charges(records, model=loaded_model)
    assert [answer["predicted_charges"] for answer in answers] == pytest.approx(expected, abs=0.005)
    stored = {row.pk: row for row in Prediction.objects.all()}
    assert len(stored) == 3
    for answer in answers:
        row = stored[answer["id"]]
        assert row.source == Prediction.Source.API and row.batch is None
        assert float(row.predicted_charges) == answer["predicted_charges"]
        assert float(row.predicted_charges_low) == answer["predicted_charges_low"]
        assert float(row.predicted_charges_high) == answer["predicted_charges_high"]


@pytest.mark.django_db
def test_a_batch_of_ten_thousand_records_is_accepted(client, valid_inputs, other_patient):
    records = [valid_inputs, other_patient] * 5000

    response = post_json(client, records)

    assert response.status_code == HTTPStatus.CREATED
    assert len(response.json()["predictions"]) == 10_000
    assert Prediction.objects.filter(source=Prediction.Source.API).count() == 10_000


@pytest.mark.django_db
def test_keys_other_than_the_six_inputs_are_ignored(client, valid_inputs):
    response = post_json(client, {**valid_inputs, "member_id": "M-17"})
    assert response.status_code == HTTPStatus.CREATED
    assert "member_id" not in response.json()


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
    body = assert_error(post_json(client, payload), HTTPStatus.BAD_REQUEST)
    assert "array of 1 to 10,000 objects" in body["detail"]


@pytest.mark.django_db
def test_more_than_ten_thousand_records_are_refused(client, valid_inputs):
    body = assert_error(post_json(client, [valid_inputs] * 10_001), HTTPStatus.BAD_REQUEST)
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
def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_read(client, valid_inputs, settings):
    settings.PREDICTOR_API_MAX_BODY_BYTES = 1000
    response = client.generic(
        "POST", URL, json.dumps(valid_inputs), content_type="application/json", CONTENT_LENGTH=str(10**9)
    )
    assert_error(response, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)


@pytest.mark.django_db
def test_a_database_failure_answers_503_json_not_500(client, valid_inputs, monkeypatch):
    def broken(**kwargs):
        raise DatabaseError("connection lost")

    monkeypatch.setattr(services, "prediction_create", broken)
    response = post_json(client, valid_inputs)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["detail"] == "The database is not available; nothing was stored."


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
# Reading the history: staff only


@pytest.mark.django_db
@pytest.mark.parametrize("path", [URL, f"{URL}/1"])
def test_anonymous_callers_cannot_read_the_history(client, path):
    PredictionFactory(id=1)
    response = client.get(path)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"detail": "Log in as staff or send an API token: Authorization: Bearer TOKEN.", "errors": []}


@pytest.mark.django_db
def test_an_unknown_token_is_refused(client):
    response = client.get(URL, HTTP_AUTHORIZATION="Bearer not-a-token")
    assert response.status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_a_token_of_an_inactive_user_is_refused(client, admin_user, staff_token, bearer):
    admin_user.is_active = False
    admin_user.save()
    assert client.get(URL, **bearer).status_code == HTTPStatus.UNAUTHORIZED


@pytest.mark.django_db
def test_a_logged_in_user_who_is_not_staff_is_forbidden(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("member", password="x"))
    response = client.get(URL)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "Can view prediction" in response.json()["detail"]


@pytest.mark.django_db
def test_staff_without_the_view_permission_are_forbidden_and_with_it_allowed(client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert client.get(URL).status_code == HTTPStatus.FORBIDDEN

    clerk.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    clerk = django_user_model.objects.get(pk=clerk.pk)  # drop the cached permissions
    client.force_login(clerk)
    assert client.get(URL).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_a_token_of_a_non_staff_user_is_forbidden(client, django_user_model):
    member = django_user_model.objects.create_user("member", password="x")
    key = tokens.api_token_create(user=member, name="member")[1]
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == HTTPStatus.FORBIDDEN


@pytest.mark.django_db
def test_staff_read_one_prediction_by_session(admin_client, valid_inputs):
    created = post_json(admin_client, valid_inputs).json()
    response = admin_client.get(f"{URL}/{created['id']}")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == created


@pytest.mark.django_db
def test_staff_read_one_prediction_by_token_and_the_use_is_recorded(client, bearer, valid_inputs):
    created = post_json(client, valid_inputs).json()
    response = client.get(f"{URL}/{created['id']}", **bearer)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["predicted_charges"] == created["predicted_charges"]
    assert ApiToken.objects.get().last_used_at is not None


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
def test_the_history_is_newest_first_filtered_by_time_and_paged(client, bearer, active_model_version):
    now = timezone.now()
    rows = [
        PredictionFactory(created_at=now - timedelta(days=days), model_version=active_model_version)
        for days in range(10)
    ]  # rows[0] is the newest

    since = (now - timedelta(days=7, hours=1)).isoformat()
    until = (now - timedelta(days=1, hours=1)).isoformat()
    first = client.get(URL, {"since": since, "until": until, "limit": 4}, **bearer)

    assert first.status_code == HTTPStatus.OK
    page = first.json()
    assert [p["id"] for p in page["predictions"]] == [row.pk for row in rows[2:6]]
    assert page["next"].startswith("http://testserver/api/v1/predictions?")
    second = client.get(page["next"], **bearer).json()
    assert [p["id"] for p in second["predictions"]] == [row.pk for row in rows[6:8]]
    assert second["next"] is None


@pytest.mark.django_db
def test_a_time_without_an_offset_is_read_as_utc(client, bearer, active_model_version):
    row = PredictionFactory(created_at=timezone.now() - timedelta(hours=1), model_version=active_model_version)
    naive = (row.created_at - timedelta(minutes=1)).replace(tzinfo=None).isoformat()
    response = client.get(URL, {"since": naive}, **bearer)
    assert [p["id"] for p in response.json()["predictions"]] == [row.pk]


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


# ---------------------------------------------------------------------------
# Tokens: made by a command or in the admin, stored only as a hash


@pytest.mark.django_db
def test_create_api_token_prints_a_token_that_reads_the_history(client, admin_user):
    out, err = StringIO(), StringIO()
    call_command("create_api_token", admin_user.username, "--name", "claims intake", stdout=out, stderr=err)

    key = out.getvalue().strip()
    token = ApiToken.objects.get()
    assert token.name == "claims intake" and token.user == admin_user
    assert key not in (token.key_hash, token.prefix) and token.key_hash == tokens.api_token_hash(key)
    assert not ApiToken.objects.filter(key_hash=key).exists()
    assert "copy it now" in err.getvalue()
    assert client.get(URL, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_create_api_token_refuses_an_unknown_user():
    with pytest.raises(CommandError, match="There is no user 'nobody'"):
        call_command("create_api_token", "nobody", stdout=StringIO(), stderr=StringIO())


@pytest.mark.django_db
def test_create_api_token_warns_when_the_user_cannot_read_the_history(django_user_model):
    django_user_model.objects.create_user("member", password="x")
    err = StringIO()
    call_command("create_api_token", "member", stdout=StringIO(), stderr=err)
    assert "will be refused (403)" in err.getvalue()


@pytest.mark.django_db
def test_the_admin_makes_a_token_and_shows_it_once(admin_client, admin_user):
    response = admin_client.post(
        "/admin/predictor/apitoken/add/", {"user": admin_user.pk, "name": "partner portal"}, follow=True
    )
    assert response.status_code == HTTPStatus.OK
    token = ApiToken.objects.get()
    shown = re.search(r"The new token for \S+: (\S+) ", response.content.decode()).group(1)
    assert token.key_hash == tokens.api_token_hash(shown)
    assert token.prefix == shown[:8]
    assert shown not in admin_client.get(f"/admin/predictor/apitoken/{token.pk}/change/").content.decode()


# ---------------------------------------------------------------------------
# The contract and its docs


def test_the_request_schema_is_derived_from_the_form_limits_and_model_choices():
    record = api.PredictionIn.model_json_schema()["properties"]
    for name, (low, high) in LIMITS.items():
        assert (record[name]["minimum"], record[name]["maximum"]) == (low, high)
    assert record["age"]["type"] == "integer" and record["bmi"]["type"] == "number"
    assert record["sex"]["enum"] == Prediction.Sex.values
    assert record["smoker"]["enum"] == Prediction.Smoker.values
    assert record["region"]["enum"] == Prediction.Region.values


@pytest.mark.django_db
def test_the_openapi_document_describes_the_three_operations(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == HTTPStatus.OK
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {"/api/v1/predictions", "/api/v1/predictions/{prediction_id}"}
    create = document["paths"]["/api/v1/predictions"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert body[1]["maxItems"] == 10_000
    assert {"201", "400", "413", "415"} <= set(create["responses"])
    assert "PredictionIn" in document["components"]["schemas"]


@pytest.mark.django_db
def test_the_docs_page_uses_only_assets_served_by_the_app(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), f"{asset} is not a static file of the app"
    assert "://" not in html.replace('"url": "/api/v1/openapi.json"', "")
