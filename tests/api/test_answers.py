"""A batch's answer from its columns (predictor/api/answers.py) against the schema's rendering of the same rows."""

import pytest
from django.test import RequestFactory

from predictor import serving, services
from predictor.api.answers import RENDERER, batch_answer
from predictor.api.schemas import PredictionBatchOut
from predictor.ml.artifacts import get_model
from predictor.models import Prediction

RECORDS = [
    {"age": 40, "sex": "female", "bmi": 31.5, "children": 2, "smoker": "no", "region": "southeast"},
    # Outside the training ranges (age 18-64, BMI 15.96-53.13, children 0-5): extrapolated, in the features' order.
    {"age": 99, "sex": "male", "bmi": 69.99, "children": 10, "smoker": "yes", "region": "northwest"},
    {"age": 18, "sex": "male", "bmi": 10, "children": 0, "smoker": "no", "region": "northeast"},
    {"age": 64, "sex": "female", "bmi": 15.96, "children": 5, "smoker": "yes", "region": "southwest"},
]


def schema_rendered(ids: list[int]) -> bytes:
    """What ninja renders for PredictionBatchOut of the stored rows, read back from the database (the oracle)."""
    rows = Prediction.objects.select_related("model_version").in_bulk(ids)
    document = PredictionBatchOut.from_orm({"predictions": [rows[pk] for pk in ids]}).model_dump()
    return RENDERER.render(RequestFactory().get("/"), document, response_status=201).encode()


@pytest.mark.django_db
def test_an_api_batch_answer_is_byte_for_byte_the_schema_of_its_stored_rows(client, active_model_version):
    response = client.post("/api/v1/predictions", RECORDS, content_type="application/json")
    assert response.status_code == 201, response.content
    answer = response.json()["predictions"]
    assert [row["extrapolated"] for row in answer] == [[], ["age", "bmi", "children"], ["bmi"], []]
    assert {row["model_version"] for row in answer} == {active_model_version.name}
    assert all(row["predicted_charges_low"] <= row["predicted_charges"] <= row["predicted_charges_high"] for row in answer)
    assert response.content == schema_rendered([row["id"] for row in answer])


@pytest.mark.django_db
def test_the_answer_of_a_model_without_an_interval_has_null_ends_as_the_schema_does():
    model = get_model("tutorial-lr-v1")  # no interval in its card
    version = serving.model_version_register(model)
    stored = services.prediction_create_many_cleaned(
        columns=services.prediction_columns(RECORDS), source=Prediction.Source.API, serving_model=(model, version)
    )
    response = batch_answer(RequestFactory().post("/api/v1/predictions"), stored)
    assert response.status_code == 201
    assert response.content == schema_rendered(stored.ids)
    assert b'"predicted_charges_low": null' in response.content
