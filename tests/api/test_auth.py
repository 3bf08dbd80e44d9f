"""Who may read the history: staff with the view permission, by admin session or by an API token."""

import re
from http import HTTPStatus
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command

from predictor.models import ApiToken
from predictor.security import tokens

from ..factories import PredictionFactory
from . import URL, post_json

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
    # The read adds what staff reviewed since (nothing yet) to the answer the POST gave.
    assert response.json() == {**created, "reviewed_charges": None, "overrides": []}


@pytest.mark.django_db
def test_staff_read_one_prediction_by_token_and_the_use_is_recorded(client, bearer, valid_inputs):
    created = post_json(client, valid_inputs).json()
    response = client.get(f"{URL}/{created['id']}", **bearer)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["predicted_charges"] == created["predicted_charges"]
    assert ApiToken.objects.get().last_used_at is not None

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

