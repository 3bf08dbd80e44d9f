"""The operations: create one or many predictions, and read the history as staff."""

import json
from datetime import timedelta
from http import HTTPStatus

import pytest
from django.utils import timezone

from predictor import services
from predictor.ml import predict
from predictor.models import Prediction

from ..factories import PredictionFactory
from . import URL, post_json

INPUTS = ("age", "sex", "bmi", "children", "smoker", "region")


def inputs_of(row: dict) -> dict:
    return {name: row[name] for name in INPUTS}


# ---------------------------------------------------------------------------
# Creating predictions


@pytest.mark.django_db
def test_one_object_is_predicted_stored_and_echoed_with_201(client, valid_inputs, loaded_model):
    response = post_json(client, valid_inputs)

    assert response.status_code == HTTPStatus.CREATED
    body = response.json()
    row = Prediction.objects.get()
    assert body["id"] == row.pk
    assert inputs_of(body) == valid_inputs
    [expected] = predict.predict_charges([valid_inputs], model=loaded_model)
    assert body["predicted_charges"] == pytest.approx(expected, abs=0.005)
    assert body["predicted_charges"] == float(row.predicted_charges)
    assert body["model_version"] == loaded_model.name
    assert body["created_at"].startswith(row.created_at.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["source"] == row.source == Prediction.Source.API
    assert body["extrapolated"] == []
    assert body["predicted_charges_low"] == float(row.predicted_charges_low)
    assert body["predicted_charges_high"] == float(row.predicted_charges_high)
    assert body["predicted_charges_low"] < body["predicted_charges"] < body["predicted_charges_high"]


@pytest.mark.django_db
@pytest.mark.parametrize("changes", [{}, {"age": 80, "children": 7}])
def test_the_created_answer_is_the_document_the_history_reads_back(client, valid_inputs, bearer, changes):
    """The one-row answer is rendered by its own schema (not the operation's union): the same bytes, in
    the same content type, as the staff's read of the row through ninja's own response validation, which
    then adds what staff decided over the estimate (no override yet)."""
    created = post_json(client, {**valid_inputs, **changes})
    assert created.status_code == HTTPStatus.CREATED
    read = client.get(f"{URL}/{created.json()['id']}", **bearer)

    assert read.status_code == HTTPStatus.OK
    assert read.content == created.content[:-1] + b', "reviewed_charges": null, "overrides": []}'
    assert created["Content-Type"] == read["Content-Type"] == "application/json; charset=utf-8"


@pytest.mark.django_db
def test_one_object_says_which_inputs_are_extrapolated(client, valid_inputs):
    response = post_json(client, {**valid_inputs, "age": 80})
    assert response.status_code == HTTPStatus.CREATED
    assert response.json()["extrapolated"] == ["age"]


@pytest.mark.django_db
def test_an_array_is_a_batch_answered_in_input_order(client, valid_inputs, other_patient, loaded_model):
    records = [valid_inputs, other_patient, {**valid_inputs, "age": 64, "smoker": "no"}]

    response = post_json(client, records)

    assert response.status_code == HTTPStatus.CREATED
    answers = response.json()["predictions"]
    assert [inputs_of(answer) for answer in answers] == records
    expected = predict.predict_charges(records, model=loaded_model)
    assert [answer["predicted_charges"] for answer in answers] == pytest.approx(expected, abs=0.005)
    stored = {row.pk: row for row in Prediction.objects.all()}
    assert len(stored) == 3
    for answer in answers:
        row = stored[answer["id"]]
        assert row.source == Prediction.Source.API and row.batch is None
        assert float(row.predicted_charges) == answer["predicted_charges"]
        assert float(row.predicted_charges_low) == answer["predicted_charges_low"]
        assert float(row.predicted_charges_high) == answer["predicted_charges_high"]


def test_a_batch_of_ten_thousand_records_is_accepted_with_a_token(client, valid_inputs, other_patient, bearer):
    records = [valid_inputs, other_patient] * 5000

    response = post_json(client, records, **bearer)

    assert response.status_code == HTTPStatus.CREATED
    assert len(response.json()["predictions"]) == 10_000
    assert Prediction.objects.filter(source=Prediction.Source.API).count() == 10_000


@pytest.mark.django_db
def test_keys_other_than_the_six_inputs_are_ignored(client, valid_inputs):
    response = post_json(client, {**valid_inputs, "member_id": "M-17"})
    assert response.status_code == HTTPStatus.CREATED
    assert "member_id" not in response.json()


@pytest.mark.django_db
def test_the_body_is_validated_once_by_the_schema_and_not_again_by_the_service(
    client, valid_inputs, other_patient, monkeypatch
):
    def cleaned_twice(*args, **kwargs):
        raise AssertionError("the service validated the input again")

    monkeypatch.setattr(services, "prediction_input_clean", cleaned_twice)
    monkeypatch.setattr(services, "prediction_rows_clean", cleaned_twice)
    assert post_json(client, valid_inputs).status_code == HTTPStatus.CREATED
    assert post_json(client, [valid_inputs, other_patient]).status_code == HTTPStatus.CREATED
    assert Prediction.objects.count() == 3


# ---------------------------------------------------------------------------
# Reading the history (who may read it: test_auth.py)


@pytest.mark.django_db
def test_the_history_is_newest_first_filtered_by_time_and_paged(client, bearer, active_model_version):
    now = timezone.now()
    rows = [
        PredictionFactory(created_at=now - timedelta(days=days), model_version=active_model_version)
        for days in range(10)
    ]  # rows[0] is the newest

    since = (now - timedelta(days=7, hours=1)).isoformat()
    until = (now - timedelta(days=1, hours=1)).isoformat()
    first = client.get(URL, {"since": since, "until": until, "limit": 4}, **bearer)

    assert first.status_code == HTTPStatus.OK
    page = first.json()
    assert [p["id"] for p in page["predictions"]] == [row.pk for row in rows[2:6]]
    assert page["next"].startswith("http://testserver/api/v1/predictions?")
    second = client.get(page["next"], **bearer).json()
    assert [p["id"] for p in second["predictions"]] == [row.pk for row in rows[6:8]]
    assert second["next"] is None


@pytest.mark.django_db
def test_a_time_without_an_offset_is_read_as_utc(client, bearer, active_model_version):
    row = PredictionFactory(created_at=timezone.now() - timedelta(hours=1), model_version=active_model_version)
    naive = (row.created_at - timedelta(minutes=1)).replace(tzinfo=None).isoformat()
    response = client.get(URL, {"since": naive}, **bearer)
    assert [p["id"] for p in response.json()["predictions"]] == [row.pk]



@pytest.mark.django_db
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"since": "0001-01-01T00:00:00+01:00"}, 1),
        ({"until": "9999-12-31T23:59:59-01:00"}, 1),
        ({"since": "9999-12-31T23:59:59-01:00"}, 0),
    ],
)
def test_times_at_the_ends_of_the_calendar_are_read_in_utc(client, bearer, active_model_version, params, expected):
    PredictionFactory(model_version=active_model_version)
    response = client.get(URL, params, **bearer)
    assert response.status_code == HTTPStatus.OK
    assert len(response.json()["predictions"]) == expected


# ---------------------------------------------------------------------------
# ?explain=true: what drives one estimate, to the cent, computed and not stored


def post_explain(client, payload):
    return client.post(f"{URL}?explain=true", json.dumps(payload), content_type="application/json")


@pytest.mark.django_db
def test_explain_true_adds_the_base_value_and_each_inputs_contribution(client, valid_inputs):
    body = post_explain(client, valid_inputs).json()
    assert set(body["contributions"]) == set(INPUTS)
    total = body["base_value"] + sum(body["contributions"].values())
    assert total == pytest.approx(body["predicted_charges"], abs=0.04)  # each figure rounded to the cent
    assert body["contributions"]["smoker"] > 10_000  # the sample patient smokes
    assert Prediction.objects.count() == 1


@pytest.mark.django_db
def test_without_explain_the_answer_has_no_contributions(client, valid_inputs):
    body = post_json(client, valid_inputs).json()
    assert "contributions" not in body and "base_value" not in body


@pytest.mark.django_db
def test_a_batch_is_answered_without_explanations_even_when_asked(client, valid_inputs):
    response = post_explain(client, [valid_inputs, valid_inputs])
    assert response.status_code == HTTPStatus.CREATED
    assert all("contributions" not in row for row in response.json()["predictions"])


@pytest.mark.django_db
def test_staff_read_a_stored_prediction_explained(client, valid_inputs, bearer):
    created = post_explain(client, valid_inputs).json()
    body = client.get(f"{URL}/{created['id']}?explain=true", **bearer).json()
    assert body["contributions"] == created["contributions"] and body["base_value"] == created["base_value"]
