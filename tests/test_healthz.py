"""/healthz: ready only when the database answers and the verified model is loaded."""

from http import HTTPStatus

import pytest
from django.db import connection
from predictor import serving



@pytest.mark.django_db
def test_ready_when_database_and_model_are(client, loaded_model):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "model": "ok",
        "model_version": loaded_model.name,
    }


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


@pytest.mark.django_db
def test_unavailable_when_the_model_artifact_is_missing(client, settings, tmp_path):
    settings.PREDICTOR_PIPELINE_PATH = tmp_path / "missing.pkl"
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["model"].startswith("error: The model artifact")
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_unavailable_when_the_active_version_has_no_artifact(client):
    from tests.factories import ModelVersionFactory

    ModelVersionFactory(name="vanished-model", active=True)
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "vanished-model.pkl is missing" in response.json()["model"]


@pytest.mark.django_db
def test_names_the_activated_version(client):
    from predictor import services

    serving.model_version_activate(name="tutorial-lr-v1")
    assert client.get("/healthz").json()["model_version"] == "tutorial-lr-v1"
