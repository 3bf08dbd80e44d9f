"""PUT /api/v1/predictions/{id}/actual: staff record the actual charges, by token or by admin session."""

import json
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from predictor.models import ActualChargeChange, Prediction
from predictor.security import tokens

from ..factories import PredictionFactory
from . import URL

pytestmark = pytest.mark.django_db


def actual_url(prediction_id) -> str:
    return f"{URL}/{prediction_id}/actual"


def put(client, prediction_id, body, **headers):
    data = body if isinstance(body, str) else json.dumps(body)
    return client.put(actual_url(prediction_id), data, content_type=headers.pop("content_type", "application/json"), **headers)


@pytest.fixture
def prediction():
    return PredictionFactory(predicted_charges=Decimal("9000.00"))


@pytest.fixture
def clerk(django_user_model):
    """Staff who may read the history and record actual charges, and nothing else."""
    user = django_user_model.objects.create_user("clerk", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_prediction", "record_actual_charges"])
    )
    return user


def test_staff_with_a_token_record_the_actual_charges(client, prediction, clerk):
    key = tokens.api_token_create(user=clerk, name="billing")[1]
    response = put(client, prediction.pk, {"actual_charges": 10250.5}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert (body["id"], body["actual_charges"], body["actual_recorded_by"]) == (prediction.pk, 10250.5, "clerk")
    assert body["predicted_charges"] == 9000.0 and body["actual_recorded_at"]
    stored = Prediction.objects.get(pk=prediction.pk)
    assert stored.actual_charges == Decimal("10250.50") and stored.actual_recorded_by == clerk
    [change] = ActualChargeChange.objects.all()
    assert (change.previous_charges, change.actual_charges, change.channel, change.changed_by) == (
        None, Decimal("10250.50"), "api", clerk,
    )


def test_a_logged_in_staff_member_records_with_the_csrf_token(prediction, clerk):
    client = Client(enforce_csrf_checks=True)
    client.force_login(clerk)
    assert put(client, prediction.pk, {"actual_charges": 1}).status_code == HTTPStatus.FORBIDDEN  # no CSRF token
    client.get("/admin/")  # sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    response = put(client, prediction.pk, {"actual_charges": 1}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == HTTPStatus.OK
    assert Prediction.objects.get(pk=prediction.pk).actual_charges == Decimal("1.00")


def test_sending_the_same_value_again_changes_nothing(client, prediction, bearer):
    first = put(client, prediction.pk, {"actual_charges": 500}, **bearer).json()
    second = put(client, prediction.pk, {"actual_charges": 500.0}, **bearer).json()
    assert first == second
    assert ActualChargeChange.objects.count() == 1


def test_a_change_keeps_the_previous_value(client, prediction, bearer):
    put(client, prediction.pk, {"actual_charges": 500}, **bearer)
    put(client, prediction.pk, {"actual_charges": 750}, **bearer)
    assert list(ActualChargeChange.objects.order_by("id").values_list("previous_charges", "actual_charges")) == [
        (None, Decimal("500.00")), (Decimal("500.00"), Decimal("750.00")),
    ]


def test_anonymous_callers_are_asked_to_log_in(client, prediction):
    response = put(client, prediction.pk, {"actual_charges": 1})
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert Prediction.objects.get(pk=prediction.pk).actual_charges is None


@pytest.mark.parametrize("codenames", [["view_prediction"], []])
def test_staff_without_the_record_permission_are_forbidden(client, prediction, django_user_model, codenames):
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    key = tokens.api_token_create(user=viewer, name="read only")[1]
    response = put(client, prediction.pk, {"actual_charges": 1}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "Can record actual charges" in response.json()["detail"]
    assert Prediction.objects.get(pk=prediction.pk).actual_charges is None


def test_a_user_who_is_not_staff_is_forbidden_even_with_the_permission(client, prediction, django_user_model):
    member = django_user_model.objects.create_user("member")
    member.user_permissions.add(Permission.objects.get(codename="record_actual_charges"))
    key = tokens.api_token_create(user=member, name="x")[1]
    assert put(client, prediction.pk, {"actual_charges": 1}, HTTP_AUTHORIZATION=f"Bearer {key}").status_code == HTTPStatus.FORBIDDEN


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"actual_charges": -1}, "The actual charges cannot be negative."),
        ({"actual_charges": 1_000_000.01}, "The actual charges cannot be more than $1,000,000 a year; check the amount."),
        ({"actual_charges": "1200"}, "Enter the actual charges as a number of dollars"),
        ({"actual_charges": True}, "Enter the actual charges as a number of dollars"),
        ({"actual_charges": None}, "Enter the actual charges."),
        ({}, "Enter the actual charges."),
    ],
)
def test_bad_amounts_are_400_naming_the_field_and_nothing_is_stored(client, prediction, bearer, body, message):
    response = put(client, prediction.pk, body, **bearer)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    [error] = response.json()["errors"]
    assert error["field"] == "actual_charges" and error["message"].startswith(message)
    assert Prediction.objects.get(pk=prediction.pk).actual_charges is None
    assert not ActualChargeChange.objects.exists()


@pytest.mark.parametrize("body", ["[1]", "5", '"text"', "{bad json", "NaN"])
def test_a_body_that_is_not_one_object_is_400(client, prediction, bearer, body):
    response = put(client, prediction.pk, body, **bearer)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert Prediction.objects.get(pk=prediction.pk).actual_charges is None


def test_an_unknown_prediction_is_404(client, prediction, bearer):
    for missing in (prediction.pk + 1, 0, 2**70):
        response = put(client, missing, {"actual_charges": 1}, **bearer)
        assert response.status_code == HTTPStatus.NOT_FOUND
        assert response.json() == {"detail": f"There is no prediction {missing}.", "errors": []}


def test_only_json_is_taken(client, prediction, bearer):
    response = put(client, prediction.pk, "actual_charges=1", content_type="application/x-www-form-urlencoded", **bearer)
    assert response.status_code == HTTPStatus.UNSUPPORTED_MEDIA_TYPE


def test_the_document_describes_the_operation(client):
    operation = client.get("/api/v1/openapi.json").json()["paths"]["/api/v1/predictions/{prediction_id}/actual"]["put"]
    assert {"200", "400", "401", "403", "404"} <= set(operation["responses"])
    assert operation["operationId"] == "predictor_api_prediction_actual_put"
