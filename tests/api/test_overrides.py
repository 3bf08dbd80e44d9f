"""POST /api/v1/predictions/{id}/override: staff override an estimate; the read of a prediction shows both figures.
And while the service is paused, every route that predicts answers 503 and stores nothing, while reads go on."""

import json
from decimal import Decimal
from http import HTTPStatus

import pytest

from predictor.models import ChargeOverride, Prediction
from predictor.security import tokens
from tests.logins import staff_with_permissions

from ..factories import PredictionFactory
from . import URL

pytestmark = pytest.mark.django_db


def override_url(prediction_id) -> str:
    return f"{URL}/{prediction_id}/override"


def post(client, prediction_id, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(override_url(prediction_id), data, content_type=headers.pop("content_type", "application/json"), **headers)


@pytest.fixture
def prediction():
    return PredictionFactory(predicted_charges=Decimal("9000.00"))


def token_of(user) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {tokens.api_token_create(user=user, name='tests')[1]}"}


def test_staff_record_an_override_and_the_read_shows_the_estimate_and_the_reviewed_charge_apart(client, bearer, prediction):
    response = post(client, prediction.pk, {"reviewed_charges": 10500.5, "reason": "Claims history"}, **bearer)

    assert response.status_code == HTTPStatus.CREATED
    answer = response.json()
    assert {key: answer[key] for key in ("prediction_id", "previous_charges", "reviewed_charges", "reason", "username", "channel")} == {
        "prediction_id": prediction.pk, "previous_charges": 9000.0, "reviewed_charges": 10500.5,
        "reason": "Claims history", "username": "admin", "channel": "api",
    }
    read = client.get(f"{URL}/{prediction.pk}", **bearer).json()
    assert (read["predicted_charges"], read["reviewed_charges"]) == (9000.0, 10500.5)
    assert [item["id"] for item in read["overrides"]] == [answer["id"]]
    assert client.get(f"{URL}/{prediction.pk}?explain=true", **bearer).json()["reviewed_charges"] == 10500.5


def test_a_prediction_without_override_reads_with_a_null_reviewed_charge(client, bearer, prediction):
    read = client.get(f"{URL}/{prediction.pk}", **bearer).json()
    assert (read["reviewed_charges"], read["overrides"]) == (None, [])


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"reviewed_charges": 10000}, "reason", "Give the reason"),
        ({"reviewed_charges": 10000, "reason": "  "}, "reason", "Give the reason"),
        ({"reviewed_charges": 10000, "reason": 5}, "reason", "Give the reason"),
        ({"reviewed_charges": -1, "reason": "why"}, "reviewed_charges", "cannot be negative"),
        ({"reviewed_charges": "10000", "reason": "why"}, "reviewed_charges", "as a number of dollars"),
        ({"reviewed_charges": True, "reason": "why"}, "reviewed_charges", "as a number of dollars"),
        ({"reviewed_charges": 2e6, "reason": "why"}, "reviewed_charges", "more than $1,000,000"),
        ({"reason": "why"}, "reviewed_charges", "Enter the reviewed charge"),
        ({"reviewed_charges": 9000, "reason": "why"}, "reviewed_charges", "equals the figure in force"),
    ],
)
def test_bad_input_answers_400_naming_the_field_and_stores_nothing(client, bearer, prediction, body, field, words):
    response = post(client, prediction.pk, body, **bearer)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    [problem] = response.json()["errors"]
    assert problem["field"] == field and words in problem["message"]
    assert not ChargeOverride.objects.exists()


@pytest.mark.parametrize("body", ["[1, 2]", "not json", '{"reviewed_charges": NaN, "reason": "x"}'])
def test_a_body_that_is_not_one_json_object_answers_400(client, bearer, prediction, body):
    assert post(client, prediction.pk, body, **bearer).status_code == HTTPStatus.BAD_REQUEST
    assert not ChargeOverride.objects.exists()


@pytest.mark.parametrize("prediction_id", ["999999", str(2**63), "-1"])
def test_a_prediction_that_does_not_exist_answers_404(client, bearer, prediction, prediction_id):
    response = post(client, prediction_id, {"reviewed_charges": 1, "reason": "why"}, **bearer)
    assert response.status_code == HTTPStatus.NOT_FOUND and "no prediction" in response.json()["detail"]
    assert not ChargeOverride.objects.exists()


def test_staff_without_the_permission_get_403_and_anonymous_callers_401(client, django_user_model, prediction):
    reader = staff_with_permissions(django_user_model, "reader", "view_prediction")

    refused = post(client, prediction.pk, {"reviewed_charges": 1, "reason": "why"}, **token_of(reader))
    assert refused.status_code == HTTPStatus.FORBIDDEN and "Can override an estimate" in refused.json()["detail"]
    assert post(client, prediction.pk, {"reviewed_charges": 1, "reason": "why"}).status_code == HTTPStatus.UNAUTHORIZED
    assert not ChargeOverride.objects.exists()


def test_staff_with_only_the_override_permission_may_override(client, django_user_model, prediction):
    reviewer = staff_with_permissions(django_user_model, "reviewer", "record_override")
    assert post(client, prediction.pk, {"reviewed_charges": 1, "reason": "why"}, **token_of(reviewer)).status_code == HTTPStatus.CREATED


# ---------------------------------------------------------------------------
# While paused


def test_while_paused_one_record_and_a_batch_answer_503_and_store_nothing(client, bearer, valid_inputs, other_patient, paused):
    for body, headers in ((valid_inputs, {}), ([valid_inputs, other_patient], {}), ([valid_inputs], bearer)):
        response = client.post(URL, json.dumps(body), content_type="application/json", **headers)
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        assert response.json()["detail"].startswith("The service is paused by its staff")
    assert not Prediction.objects.exists()


def test_while_paused_the_history_is_read_and_overrides_are_recorded(client, bearer, prediction, paused):
    assert client.get(URL, **bearer).status_code == HTTPStatus.OK
    assert client.get(f"{URL}/{prediction.pk}", **bearer).status_code == HTTPStatus.OK
    assert post(client, prediction.pk, {"reviewed_charges": 1, "reason": "why"}, **bearer).status_code == HTTPStatus.CREATED
