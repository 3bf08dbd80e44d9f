"""GET /api/v1/models/comparison: staff read the comparison, as compare_models --json prints it."""

import json
from http import HTTPStatus
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command

from predictor.models import AccessLogEntry
from predictor.security import tokens
from tests.changes.scores import better_rows

pytestmark = pytest.mark.django_db
URL = "/api/v1/models/comparison"


def test_staff_get_the_same_figures_as_the_command_and_the_read_is_logged(client, bearer, challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version)

    response = client.get(URL, **bearer)

    assert response.status_code == HTTPStatus.OK
    out = StringIO()
    call_command("compare_models", "--json", stdout=out)
    assert response.json() == json.loads(out.getvalue())
    entry = AccessLogEntry.objects.filter(path=URL).get()
    assert entry.action == "model_comparison" and entry.token_name == "tests" and entry.row_count == 60


def test_without_a_challenger_it_answers_409_saying_so(client, bearer):
    response = client.get(URL, **bearer)

    assert response.status_code == HTTPStatus.CONFLICT
    assert "There is no challenger" in response.json()["detail"]
    assert not AccessLogEntry.objects.exists()


def test_staff_without_the_view_permission_get_403(client, django_user_model, challenger_version):
    clerk = django_user_model.objects.create_user("clerk", password="a-long-test-password", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    token = tokens.api_token_create(user=clerk, name="clerk")[1]

    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == HTTPStatus.FORBIDDEN and "Can view model change" in response.json()["detail"]


def test_staff_with_the_view_permission_may_read_it(client, django_user_model, challenger_version, active_model_version):
    better_rows(active_model_version, challenger_version, count=30)
    reader = django_user_model.objects.create_user("reader", password="a-long-test-password", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_modelchange"))
    token = tokens.api_token_create(user=reader, name="reader")[1]

    response = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == HTTPStatus.OK and response.json()["n"] == 30


def test_anonymous_callers_get_401(client):
    assert client.get(URL).status_code == HTTPStatus.UNAUTHORIZED
