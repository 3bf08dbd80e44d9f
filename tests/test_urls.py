"""HEAD wherever GET: every URL pattern of the site (the pages, the admin, the JSON API and its
docs), filled in with real objects, answers HEAD with GET's status and no body, never 405.

The walk reads the URL configuration itself, so a route added later is walked too.
"""

import re
from http import HTTPStatus

import pytest
from axes.models import AccessAttempt
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from predictor import selectors, services
from predictor.models import ApiToken, Batch, ModelVersion, Prediction
from predictor.security.tokens import api_token_create


def routes(patterns=None, prefix: str = ""):
    """Every URL pattern's route, resolvers walked into: 'admin/auth/user/<path:object_id>/change/', ..."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        text = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            yield from routes(pattern.url_patterns, text)
        else:
            assert isinstance(pattern, URLPattern)
            yield text


def url_of(route: str, values: dict[str, str]) -> str:
    """The route with each of its parameters set to a real object (or, for the admin, the first of its model)."""
    route = re.sub(r"\(\?P<app_label>[^)]*\)", "predictor", route).replace("(?P<url>.*)", "no-such-page/")
    model = re.match(r"admin/(\w+)/(\w+)/<path:object_id>", route)
    if model:
        first = apps.get_model(model[1], model[2]).objects.order_by("pk").first()
        values = {**values, "object_id": str(first.pk) if first else "0"}
    url = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda match: values[match[1]], route)
    assert "<" not in url and "(" not in url, url
    return url


@pytest.fixture
def site_objects(db, admin_user, valid_inputs):
    """One of each thing the admin and the API show, and the values that fill the routes."""
    prediction = services.prediction_create(**valid_inputs, source=Prediction.Source.WEB)
    Batch.objects.create(file_name="patients.csv", row_count=1, created_by=admin_user)
    api_token_create(user=admin_user, name="walk")
    assert ApiToken.objects.exists()
    # A failed sign-in, so the lockout's admin pages have a row to show.
    Client().post("/admin/login/", {"username": "nobody", "password": "wrong"})
    assert AccessAttempt.objects.exists()
    return {
        "content_type_id": str(ContentType.objects.get_for_model(Prediction).pk),
        "object_id": str(prediction.pk),
        "pk": str(ModelVersion.objects.get(active=True).pk),
        "id": str(admin_user.pk),
        "token": selectors.prediction_result_token(prediction),
        "prediction_id": str(prediction.pk),
    }


def walk(client: Client, values: dict[str, str]) -> dict[str, tuple[int, int, bytes]]:
    answers = {}
    for url in sorted({url_of(route, values) for route in routes()}):
        get = client.get(url)
        head = client.head(url)
        body = b"".join(head.streaming_content) if head.streaming else head.content
        answers[url] = (get.status_code, head.status_code, body)
    return answers


# Routes that must answer a GET (so the walk cannot pass by finding nothing to compare).
STAFF_PAGES = [
    "/", "/healthz", "/admin/predictor/batch/upload/", "/admin/predictor/prediction/forecast/",
    "/admin/predictor/prediction/monitoring/", "/admin/predictor/prediction/actuals/", "/admin/predictor/modelchange/comparison/", "/admin/", "/api/v1/docs", "/api/v1/openapi.json", "/api/v1/predictions",
]


@pytest.mark.parametrize("who", ["anonymous", "superuser"])
def test_head_answers_every_route_with_the_status_of_get_and_no_body(site_objects, admin_user, who):
    client = Client()
    if who == "superuser":
        client.force_login(admin_user)

    answers = walk(client, site_objects)

    assert len(answers) > 60  # the pages, the admin of every model, the API
    differing = {url: (get, head) for url, (get, head, _) in answers.items() if get != head}
    # Django's admin sends a signed-in GET of its login page on to the index and only a GET: a
    # HEAD gets the page itself (200). Not a refusal; left as Django has it.
    expected = {"/admin/login/": (HTTPStatus.FOUND, HTTPStatus.OK)} if who == "superuser" else {}
    assert differing == expected
    assert {url: body for url, (_, _, body) in answers.items() if body} == {}
    refused = {url for url, (get, head, _) in answers.items() if head == HTTPStatus.METHOD_NOT_ALLOWED}
    # Only the routes that refuse GET too: logging out, recording an actual charge or an override, forecasting.
    assert refused <= {
        "/admin/logout/", f"/api/v1/predictions/{site_objects['prediction_id']}/actual",
        f"/api/v1/predictions/{site_objects['prediction_id']}/override", "/api/v1/forecasts",
    }
    if who == "superuser":
        pages = STAFF_PAGES + [f"/result/{site_objects['token']}/", f"/api/v1/predictions/{site_objects['prediction_id']}"]
        assert {url: answers[url][1] for url in pages} == {url: HTTPStatus.OK for url in pages}


def test_head_on_the_api_checks_authentication_like_get(site_objects, admin_user):
    token = api_token_create(user=admin_user, name="head")[1]
    client = Client()

    assert client.head("/api/v1/predictions").status_code == HTTPStatus.UNAUTHORIZED
    assert client.head("/api/v1/predictions", headers={"Authorization": "Bearer wrong"}).status_code == HTTPStatus.UNAUTHORIZED
    answer = client.head("/api/v1/predictions", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == HTTPStatus.OK and answer["Content-Type"] == "application/json; charset=utf-8"


def test_head_stays_out_of_the_openapi_document(client, db):
    document = client.get("/api/v1/openapi.json").json()

    assert {method for operations in document["paths"].values() for method in operations} == {"get", "post", "put"}


@pytest.mark.parametrize(
    "old, new",
    [("/batch/", "/admin/predictor/batch/upload/"), ("/forecast/", "/admin/predictor/prediction/forecast/")],
)
def test_the_staff_pages_old_paths_redirect_to_the_admin_keeping_the_method_and_the_query(client, old, new):
    """The batch and forecast pages moved into the admin; links, bookmarks and scripts posting to the old paths
    still arrive (308 keeps a POST a POST, with its body), and nothing is answered there without the guard."""
    assert client.get(old).status_code == HTTPStatus.PERMANENT_REDIRECT
    assert client.get(old)["Location"] == new
    assert client.get(old, {"cohort": "stored", "region": "north west"})["Location"] == f"{new}?cohort=stored&region=north+west"
    posted = client.post(old, {"seed": "1"})
    assert posted.status_code == HTTPStatus.PERMANENT_REDIRECT and posted["Location"] == new
    assert client.get(new).status_code == HTTPStatus.FOUND  # anonymous: the guard sends them to sign in
