"""The API's OpenAPI document: derived from the schemas (and so from the form), and kept by the API.

The contract test checks the API against its own document with schemathesis, in process
through the WSGI app. Schemathesis generates valid and invalid requests for every
operation from the document and runs all its checks on each answer: no server error,
only documented status codes and content types, bodies that match the response schemas,
valid input accepted and invalid input refused. The history is called with a staff token
(and, by schemathesis's own auth check, without one).
"""

import re
from http import HTTPStatus

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from ninja.openapi.schema import REF_TEMPLATE
from schemathesis.config import SchemathesisConfig

from predictor import services
from predictor.api import schemas
from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT
from predictor.forms import LIMITS, PredictionForm
from predictor.models import Prediction


# Django's own WSGI handler: importing insurance_site.wsgi would warm the models up against
# the database at collection time, outside any test.
application = get_wsgi_application()
# A body over the configured size is refused with 413 before it is parsed (an oversized batch
# is invalid data too), so 413 counts as a rejection alongside schemathesis's default codes.
CONFIG = SchemathesisConfig.from_dict(
    {
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
            }
        }
    }
)
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application, config=CONFIG)


@pytest.fixture
def keep_test_connection():
    """Keep the test's database connection across requests, as Django's own test client does.

    The WSGI handler closes "old" connections when a request starts and finishes; inside
    the test's transaction that would close the connection the test runs in.
    """
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def stored_predictions(db, valid_inputs):
    """A little history, so that the read operations answer with real rows too."""
    return services.prediction_create_many(rows=[valid_inputs, {**valid_inputs, "age": 80}], source="api")


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same examples on every run, so CI cannot pass or fail by chance
    database=None,  # no .hypothesis folder in the work tree
    # Every example shares the test's database transaction; nothing needs resetting between them.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_keeps_its_contract(case, staff_token, stored_predictions, keep_test_connection, raised_rate_limits):
    case.call_and_validate(headers={"Authorization": f"Bearer {staff_token}"})

# ---------------------------------------------------------------------------
# The contract and its docs


def test_the_request_schema_is_derived_from_the_form_limits_and_model_choices():
    record = schemas.PredictionIn.model_json_schema()["properties"]
    for name, (low, high) in LIMITS.items():
        assert (record[name]["minimum"], record[name]["maximum"]) == (low, high)
    assert record["age"]["type"] == "integer" and record["bmi"]["type"] == "number"
    assert record["sex"]["enum"] == Prediction.Sex.values
    assert record["smoker"]["enum"] == Prediction.Smoker.values
    assert record["region"]["enum"] == Prediction.Region.values


@pytest.mark.django_db
def test_the_openapi_document_describes_the_six_operations(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == HTTPStatus.OK
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert set(document["paths"]) == {
        "/api/v1/predictions", "/api/v1/predictions/{prediction_id}", "/api/v1/predictions/{prediction_id}/actual",
        "/api/v1/predictions/{prediction_id}/override", "/api/v1/forecasts", "/api/v1/models/comparison",
    }
    assert set(document["paths"]["/api/v1/models/comparison"]) == {"get"}
    assert set(document["paths"]["/api/v1/predictions/{prediction_id}/actual"]) == {"put"}
    assert set(document["paths"]["/api/v1/predictions/{prediction_id}/override"]) == {"post"}
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


@pytest.mark.django_db
def test_the_documented_request_body_is_one_record_or_a_bounded_array_of_records(client):
    document = client.get("/api/v1/openapi.json").json()
    body = document["paths"]["/api/v1/predictions"]["post"]["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    record = {"$ref": REF_TEMPLATE.format(model="PredictionIn")}
    assert schema["oneOf"] == [
        record,
        {"type": "array", "items": record, "minItems": 1, "maxItems": schemas.MAX_BATCH_RECORDS},
    ]
    assert schema["examples"] == [SAMPLE_PATIENT, [SAMPLE_PATIENT, SECOND_PATIENT]]


@pytest.mark.django_db
def test_the_documented_record_is_the_schema_the_api_validates_with(client):
    documented = client.get("/api/v1/openapi.json").json()["components"]["schemas"]["PredictionIn"]
    assert documented == schemas.PredictionIn.model_json_schema(ref_template=REF_TEMPLATE)
    assert documented["required"] == list(PredictionForm.base_fields)
    for name, field in PredictionForm.base_fields.items():
        assert documented["properties"][name]["description"].startswith(str(field.label))
        assert documented["properties"][name]["examples"] == [SAMPLE_PATIENT[name]]
    assert documented["properties"]["children"]["type"] == "integer"


def test_stored_predictions_echo_their_inputs_without_the_form_bounds():
    # A stored row stays readable if the ranges change later.
    stored = schemas.PredictionOut.model_json_schema(mode="serialization")["properties"]
    assert stored["age"]["type"] == "integer" and "minimum" not in stored["age"]
    assert stored["bmi"]["type"] == "number" and "maximum" not in stored["bmi"]
    assert stored["region"]["enum"] == Prediction.Region.values
