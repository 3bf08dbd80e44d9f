"""POST /api/v1/forecasts: staff forecast a group's total from records or from a filter of stored predictions."""

import json
from datetime import datetime, timezone
from http import HTTPStatus

import numpy as np
import pytest
from django.contrib.auth.models import Permission

from predictor import serving, services
from predictor.examples import SAMPLE_PATIENT
from predictor.ml import artifacts, predict
from predictor.models import Prediction

from ..factories import random_valid_rows
from . import post_json

FORECASTS = "/api/v1/forecasts"
KEYS = {"patients", "expected_total", "median_total", "ranges", "naive_interval_sum", "breakdown", "seed", "model_version"}


def forecast(client, payload, **extra):
    return client.post(FORECASTS, json.dumps(payload), content_type="application/json", **extra)


@pytest.fixture
def rows():
    return random_valid_rows(60, seed=10)


def group_of(row) -> str:
    return f"{'smoker' if row['smoker'] == 'yes' else 'non_smoker'}_{'obese' if row['bmi'] > 30 else 'not_obese'}"


@pytest.mark.django_db
def test_records_are_forecast_from_the_pipelines_estimates_and_the_cards_residuals(client, bearer, rows, loaded_model):
    response = forecast(client, {"records": rows}, **bearer)
    assert response.status_code == HTTPStatus.OK
    body = response.json()
    assert KEYS <= set(body)
    assert body["patients"] == 60 and body["seed"] == 0 and body["model_version"] == loaded_model.name
    # Independent of the forecast's own arithmetic: the pipeline's estimates, the card's residual means.
    estimates = predict.predict_charges_pipeline(rows, loaded_model)
    residuals = loaded_model.card["distribution"]["residuals"]
    expected = sum(estimates) + sum(np.mean(residuals[group_of(row)]) for row in rows)
    assert body["point_sum"] == pytest.approx(sum(estimates), abs=0.01)
    assert body["expected_total"] == pytest.approx(expected, abs=0.01)
    intervals = predict.predict_charges_with_interval(rows, loaded_model)
    floored = sum(1 for _, low, _ in intervals if low == 0.0)
    if not floored:
        assert body["naive_interval_sum"][0] == pytest.approx(sum(low for _, low, _ in intervals), abs=0.01)
    assert body["naive_interval_sum"][1] == pytest.approx(sum(high for _, _, high in intervals), abs=0.01)
    ranges = body["ranges"]
    assert ranges["90"][0] < ranges["80"][0] < ranges["50"][0] < body["median_total"] < ranges["50"][1] < ranges["80"][1] < ranges["90"][1]
    # Random inputs across the form's ranges: ages above 64 are outside the training range.
    assert body["extrapolated"] == sum(1 for r in rows if not (18 <= r["age"] <= 64 and 15.96 <= r["bmi"] <= 53.13 and r["children"] <= 5))


@pytest.mark.django_db
def test_the_breakdown_covers_every_patient_in_each_dimension(client, bearer, rows):
    body = forecast(client, {"records": rows}, **bearer).json()
    by_dimension = {}
    for row in body["breakdown"]:
        by_dimension.setdefault(row["dimension"], {})[row["value"]] = row
    assert set(by_dimension) == {"region", "smoker", "sex", "age_band"}  # no month for records
    for dimension, values in by_dimension.items():
        assert sum(row["patients"] for row in values.values()) == 60, dimension
        assert sum(row["expected_total"] for row in values.values()) == pytest.approx(body["expected_total"], abs=0.05)
    assert by_dimension["region"]["southeast"]["patients"] == sum(1 for r in rows if r["region"] == "southeast")
    over_64 = [r for r in rows if r["age"] >= 65]
    assert by_dimension["age_band"]["65+"]["patients"] == len(over_64)
    assert by_dimension["age_band"]["65+"]["extrapolated"] == len(over_64)
    assert list(by_dimension["age_band"]) == [band for band in ("18-29", "30-39", "40-49", "50-64", "65+") if band in by_dimension["age_band"]]


@pytest.mark.django_db
def test_the_same_seed_gives_the_same_answer_and_another_seed_other_draws_only(client, bearer, rows):
    first = forecast(client, {"records": rows, "seed": 7}, **bearer).json()
    assert forecast(client, {"records": rows, "seed": 7}, **bearer).json() == first
    other = forecast(client, {"records": rows, "seed": 8}, **bearer).json()
    assert other["simulation"] != first["simulation"]
    assert {k: v for k, v in other.items() if k not in {"seed", "simulation"}} == {
        k: v for k, v in first.items() if k not in {"seed", "simulation"}
    }
    assert first["simulation"]["draws"] == 10_000 and sum(first["simulation"]["histogram"]["counts"]) == 10_000


@pytest.mark.django_db
def test_stored_predictions_filtered_by_date_are_forecast_like_the_same_records(client, bearer, rows):
    inside, outside = rows[:40], rows[40:]
    for part, when in ((inside, datetime(2026, 3, 10, tzinfo=timezone.utc)), (outside, datetime(2026, 5, 2, tzinfo=timezone.utc))):
        stored = services.prediction_create_many(rows=part, source="api")
        Prediction.objects.filter(pk__in=[p.pk for p in stored]).update(created_at=when)
    body = forecast(client, {"filter": {"since": "2026-03-01T00:00:00Z", "until": "2026-04-01T00:00:00Z"}}, **bearer).json()
    same = forecast(client, {"records": inside}, **bearer).json()
    assert body["patients"] == 40
    for key in ("expected_total", "median_total", "point_sum"):
        assert body[key] == pytest.approx(same[key], abs=0.05)
    for level in ("50", "80", "90"):
        assert body["ranges"][level] == pytest.approx(same["ranges"][level], abs=0.05)
    months = [row for row in body["breakdown"] if row["dimension"] == "month"]
    assert [(row["value"], row["patients"]) for row in months] == [("2026-03", 40)]
    everyone = forecast(client, {"filter": {}}, **bearer).json()
    assert [(row["value"], row["patients"]) for row in everyone["breakdown"] if row["dimension"] == "month"] == [
        ("2026-03", 40), ("2026-05", 20)
    ]


@pytest.mark.django_db
def test_a_filter_by_region_smoker_and_source(client, bearer, rows):
    services.prediction_create_many(rows=rows, source="api")
    body = forecast(client, {"filter": {"region": "northwest", "smoker": "no", "source": "api"}}, **bearer).json()
    assert body["patients"] == sum(1 for r in rows if r["region"] == "northwest" and r["smoker"] == "no")


@pytest.mark.django_db
def test_a_filter_that_selects_nobody_answers_a_clear_message(client, bearer):
    response = forecast(client, {"filter": {"region": "southwest"}}, **bearer)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert response.json() == {
        "detail": "No stored prediction matches this filter, so there is nothing to forecast "
        "(stored predictions region southwest).",
        "errors": [],
    }


@pytest.mark.django_db
def test_bad_records_get_the_predictions_apis_errors_and_nothing_is_stored(client, bearer, rows):
    rows[3]["age"] = 7
    rows[5]["smoker"] = "sometimes"
    rows[9] = "not a record"
    response = forecast(client, {"records": rows}, **bearer)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    same_batch = post_json(client, rows)
    assert response.json() == same_batch.json()  # same summary, indexes, fields and messages
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload,message",
    [
        ({}, "Send either records"),
        ({"records": []}, "at least 1 item"),
        ({"filter": {}, "records": [SAMPLE_PATIENT]}, "Send either records"),
        ({"filter": {"since": "yesterday"}}, "Enter a date and time"),
        ({"filter": {}, "seed": -1}, "greater than or equal to 0"),
        ({"filter": {"batch": 0}}, "greater than or equal to 1"),
        ({"filter": {"batch": 2.5}}, "Enter a whole number."),
        ({"filter": {"regoin": "southeast"}}, "Extra inputs are not permitted"),
        ({"filter": {}, "colour": "blue"}, "Extra inputs are not permitted"),
    ],
)
def test_a_body_without_one_cohort_or_with_bad_parameters_is_refused(client, bearer, payload, message):
    response = forecast(client, payload, **bearer)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    text = json.dumps(response.json())
    assert message in text


@pytest.mark.django_db
def test_a_bad_filter_names_its_field(client, bearer):
    response = forecast(client, {"filter": {"since": "yesterday"}}, **bearer)
    assert response.json()["errors"][0]["field"] == "filter.since"


@pytest.mark.django_db
def test_a_model_without_a_distribution_is_refused_naming_one_that_has_one(client, bearer, rows):
    serving.model_version_activate(name="huber-blend-v1")
    response = forecast(client, {"records": rows}, **bearer)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    detail = response.json()["detail"]
    assert "huber-blend-v1 has no predictive distribution" in detail and "huber-blend-v2" in detail
    # Named, a version that has one forecasts while the other stays active.
    serving.model_version_register(artifacts.get_model("huber-blend-v2"))
    named = forecast(client, {"records": rows, "model": "huber-blend-v2"}, **bearer)
    assert named.status_code == HTTPStatus.OK and named.json()["model_version"] == "huber-blend-v2"


@pytest.mark.django_db
def test_an_unknown_model_is_not_found(client, bearer, rows):
    response = forecast(client, {"records": rows, "model": "no-such-model"}, **bearer)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "There is no model version 'no-such-model'" in response.json()["detail"]


# ---------------------------------------------------------------------------
# Who may forecast


@pytest.mark.django_db
def test_anonymous_callers_get_401(client, rows):
    response = forecast(client, {"records": rows})
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_a_member_who_is_not_staff_gets_403_and_staff_with_the_view_permission_200(client, django_user_model, rows):
    member = django_user_model.objects.create_user("member", password="x")
    client.force_login(member)
    assert forecast(client, {"records": rows}).status_code == HTTPStatus.FORBIDDEN
    clerk = django_user_model.objects.create_user("clerk", password="x", is_staff=True)
    client.force_login(clerk)
    assert forecast(client, {"records": rows}).status_code == HTTPStatus.FORBIDDEN
    clerk.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    client.force_login(django_user_model.objects.get(pk=clerk.pk))
    assert forecast(client, {"records": rows}).status_code == HTTPStatus.OK


@pytest.mark.django_db
def test_the_openapi_document_describes_the_forecast(client):
    document = client.get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/forecasts"]["post"]
    assert {"200", "400", "401", "403", "404", "413", "415"} <= set(operation["responses"])
    schemas = document["components"]["schemas"]
    assert {"records", "filter", "seed", "model"} <= set(schemas["ForecastIn"]["properties"])
    assert set(schemas["ForecastRanges"]["properties"]) == {"50", "80", "90"}
    assert KEYS - {"breakdown"} <= set(schemas["ForecastOut"]["properties"]) | {"breakdown"}


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"filter": {"model_version": "v\x001"}}, {"filter": {}, "model": "v\x001"}])
def test_a_nul_character_in_a_model_name_is_bad_input_not_a_server_error(client, bearer, body):
    response = forecast(client, body, **bearer)
    assert response.status_code == HTTPStatus.BAD_REQUEST
