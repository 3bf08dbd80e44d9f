"""The API's rate limits: per address for anonymous callers (shared with the form), per token or staff
user for the rest; the anonymous batch size; a bad token; a spoofed X-Forwarded-For; the store down."""

import json
from http import HTTPStatus

import pytest
from django.urls import reverse

from predictor.api.errors import BAD_TOKEN
from predictor.models import Prediction, RateLimit
from predictor.security import tokens

from ..factories import PredictionFactory
from . import URL, post_json


def assert_429(response):
    assert response.status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert response["Content-Type"].startswith("application/json")
    retry_after = int(response["Retry-After"])
    assert 1 <= retry_after <= 60
    body = response.json()
    assert body == {
        "detail": f"Too many requests: the rate limit was reached; try again in {retry_after} second"
        f"{'s' if retry_after != 1 else ''}. Nothing was stored.",
        "errors": [],
    }


@pytest.fixture
def anon_limit(settings):
    settings.PREDICTOR_RATE_LIMIT_ANON = (2, 60)


@pytest.fixture
def token_limit(settings):
    settings.PREDICTOR_RATE_LIMIT_TOKEN = (3, 60)


# ---------------------------------------------------------------------------
# Anonymous callers: per address, with the form


@pytest.mark.django_db
def test_an_anonymous_post_over_the_limit_is_429_json_with_retry_after_and_stores_nothing(client, valid_inputs, anon_limit):
    assert post_json(client, valid_inputs).status_code == HTTPStatus.CREATED
    assert post_json(client, [valid_inputs, valid_inputs]).status_code == HTTPStatus.CREATED

    assert_429(post_json(client, [valid_inputs] * 3))
    assert_429(post_json(client, valid_inputs))
    assert Prediction.objects.count() == 3


@pytest.mark.django_db
def test_every_post_counts_once_whatever_its_answer_and_over_the_limit_the_429_comes_first(client, valid_inputs, anon_limit):
    """A bad record and a body that is not JSON count like a prediction; once over the limit the answer
    is the 429, not the 400 or 415 the request would otherwise get."""
    assert post_json(client, {**valid_inputs, "age": 5}).status_code == HTTPStatus.BAD_REQUEST
    assert client.post(URL, "{not json", content_type="application/json").status_code == HTTPStatus.BAD_REQUEST

    assert_429(post_json(client, valid_inputs))
    assert_429(post_json(client, {**valid_inputs, "age": 5}))
    assert_429(client.post(URL, "age=19", content_type="text/plain"))
    assert Prediction.objects.count() == 0
    assert RateLimit.objects.get(key="anon:127.0.0.1").hits == 3  # stops at limit + 1


@pytest.mark.django_db
def test_the_form_and_the_anonymous_api_share_one_count_per_address(client, valid_inputs, anon_limit):
    assert client.post(reverse("predictor:predict"), valid_inputs).status_code == HTTPStatus.FOUND
    assert post_json(client, valid_inputs).status_code == HTTPStatus.CREATED

    assert client.post(reverse("predictor:predict"), valid_inputs).status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert_429(post_json(client, valid_inputs))
    assert Prediction.objects.count() == 2


@pytest.mark.django_db
def test_another_address_has_its_own_count(client, valid_inputs, anon_limit):
    for _ in range(2):
        post_json(client, valid_inputs, REMOTE_ADDR="198.51.100.1")

    assert post_json(client, valid_inputs, REMOTE_ADDR="198.51.100.1").status_code == HTTPStatus.TOO_MANY_REQUESTS
    assert post_json(client, valid_inputs, REMOTE_ADDR="198.51.100.2").status_code == HTTPStatus.CREATED


@pytest.mark.django_db
def test_a_spoofed_forwarded_for_neither_escapes_the_limit_nor_spends_another_clients(client, valid_inputs, anon_limit, settings):
    """Behind one load balancer (PREDICTOR_PROXY_HOPS=1) it appends the address it accepted; whatever the
    client wrote in front of that is ignored."""
    settings.PREDICTOR_PROXY_HOPS = 1
    balancer = {"REMOTE_ADDR": "10.0.0.5"}
    attacker, victim = "203.0.113.9", "203.0.113.5"

    # The attacker writes a new address in front each time, then the victim's own.
    answers = [
        post_json(client, valid_inputs, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, {attacker}", **balancer).status_code
        for n in range(3)
    ]
    answers.append(post_json(client, valid_inputs, HTTP_X_FORWARDED_FOR=f"{victim}, {attacker}", **balancer).status_code)
    answers.append(
        client.post(reverse("predictor:predict"), valid_inputs, HTTP_X_FORWARDED_FOR=f"{victim},{attacker}", **balancer).status_code
    )

    assert answers == [HTTPStatus.CREATED] * 2 + [HTTPStatus.TOO_MANY_REQUESTS] * 3
    victim_answers = [
        post_json(client, valid_inputs, HTTP_X_FORWARDED_FOR=victim, **balancer).status_code for _ in range(2)
    ]
    assert victim_answers == [HTTPStatus.CREATED] * 2
    assert Prediction.objects.count() == 4


# ---------------------------------------------------------------------------
# The anonymous batch size


@pytest.mark.django_db
def test_an_anonymous_batch_over_the_size_is_413_saying_a_token_is_needed_and_stores_nothing(client, valid_inputs, settings):
    settings.PREDICTOR_API_ANON_MAX_RECORDS = 3

    response = post_json(client, [valid_inputs] * 4)

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert response.json() == {
        "detail": "Without an API token a request may send at most 3 records; this one sent 4. Send it with a staff "
        "API token (Authorization: Bearer TOKEN) for up to 10,000, or split it. Nothing was stored.",
        "errors": [],
    }
    assert Prediction.objects.count() == 0
    assert post_json(client, [valid_inputs] * 3).status_code == HTTPStatus.CREATED


@pytest.mark.django_db
def test_the_anonymous_size_is_checked_before_any_record(client, valid_inputs, settings):
    settings.PREDICTOR_API_ANON_MAX_RECORDS = 3

    response = post_json(client, [{**valid_inputs, "age": 5}] * 4)

    assert response.status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


@pytest.mark.django_db
def test_by_default_an_anonymous_batch_holds_at_most_100_records(client, valid_inputs):
    assert post_json(client, [valid_inputs] * 101).status_code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    assert post_json(client, [valid_inputs] * 100).status_code == HTTPStatus.CREATED
    assert Prediction.objects.count() == 100


@pytest.mark.django_db
def test_a_token_lifts_the_batch_size_to_the_apis(client, valid_inputs, settings, bearer):
    settings.PREDICTOR_API_ANON_MAX_RECORDS = 3

    response = post_json(client, [valid_inputs] * 4, **bearer)

    assert response.status_code == HTTPStatus.CREATED
    assert Prediction.objects.count() == 4


# ---------------------------------------------------------------------------
# A token on POST /predictions: valid, or 401


@pytest.mark.django_db
@pytest.mark.parametrize("header", ["Bearer not-a-token", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_a_bad_authorization_header_is_401_never_anonymous(client, valid_inputs, header):
    response = post_json(client, valid_inputs, HTTP_AUTHORIZATION=header)

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json() == {"detail": BAD_TOKEN, "errors": []}
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_a_token_whose_user_is_no_longer_staff_is_401(client, valid_inputs, admin_user, bearer):
    admin_user.is_staff = False
    admin_user.save()

    assert post_json(client, valid_inputs, **bearer).status_code == HTTPStatus.UNAUTHORIZED


# ---------------------------------------------------------------------------
# Tokens and staff sessions: per token, or per user, over every operation


@pytest.mark.django_db
def test_each_token_has_its_own_limit_over_every_operation(client, valid_inputs, admin_user, bearer, token_limit, anon_limit):
    prediction = PredictionFactory()
    other = {"HTTP_AUTHORIZATION": f"Bearer {tokens.api_token_create(user=admin_user, name='second')[1]}"}

    answers = [
        post_json(client, valid_inputs, **bearer).status_code,
        client.put(f"{URL}/{prediction.pk}/actual", json.dumps({"actual_charges": 100.0}),
                   content_type="application/json", **bearer).status_code,
        client.post("/api/v1/forecasts", json.dumps({"records": [valid_inputs]}), content_type="application/json",
                    **bearer).status_code,
    ]
    assert answers == [HTTPStatus.CREATED, HTTPStatus.OK, HTTPStatus.OK]
    assert_429(client.get(URL, **bearer))
    assert_429(client.get(f"{URL}/{prediction.pk}", **bearer))
    assert_429(post_json(client, valid_inputs, **bearer))

    # Another token of the same user, and anonymous callers from the same address, are not held back.
    assert client.get(URL, **other).status_code == HTTPStatus.OK
    assert post_json(client, valid_inputs).status_code == HTTPStatus.CREATED
    assert Prediction.objects.filter(source=Prediction.Source.API).count() == 2


@pytest.mark.django_db
def test_a_token_does_not_spend_the_anonymous_count_of_its_address(client, valid_inputs, bearer, anon_limit):
    for _ in range(5):
        assert post_json(client, valid_inputs, **bearer).status_code == HTTPStatus.CREATED

    assert post_json(client, valid_inputs).status_code == HTTPStatus.CREATED


@pytest.mark.django_db
def test_a_staff_session_counts_per_user(client, admin_user, token_limit):
    client.force_login(admin_user)

    assert [client.get(URL).status_code for _ in range(3)] == [HTTPStatus.OK] * 3
    assert_429(client.get(URL))


@pytest.mark.django_db
def test_a_refused_caller_is_not_counted_before_authentication(client, token_limit):
    # 401s do not spend anyone's count: there is no one to count them for.
    assert {client.get(URL, HTTP_AUTHORIZATION="Bearer wrong").status_code for _ in range(5)} == {HTTPStatus.UNAUTHORIZED}


# ---------------------------------------------------------------------------
# The store cannot answer


@pytest.mark.django_db
def test_a_store_that_cannot_answer_gives_503_json_not_500(client, valid_inputs, locked_rate_limit_table):
    response = post_json(client, valid_inputs)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json() == {"detail": "The database is not available; nothing was stored.", "errors": []}


# ---------------------------------------------------------------------------
# The document


@pytest.mark.django_db
def test_the_document_makes_the_token_optional_for_predictions_and_lists_429_everywhere(client):
    document = client.get("/api/v1/openapi.json").json()

    create = document["paths"][URL]["post"]
    assert create["security"] == [{"ApiTokenAuth": []}, {}]
    assert {"401", "413", "429"} <= set(create["responses"])
    assert document["paths"][URL]["get"]["security"] == [{"ApiTokenAuth": []}, {"SessionAuth": []}]
    for path in document["paths"].values():
        for operation in path.values():
            assert "429" in operation["responses"], operation["operationId"]
