"""services.prediction_create_many and batch_create: validate all, predict once, bulk insert all or nothing."""

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from predictor import services
from predictor.ml import predict
from predictor.models import Batch, Prediction


@pytest.fixture
def rows(valid_inputs) -> list[dict]:
    return [valid_inputs, {**valid_inputs, "age": "45", "bmi": "31.5", "smoker": "no"}, {**valid_inputs, "children": 3}]


@pytest.mark.django_db
def test_predicts_every_row_in_one_call_and_stores_them_in_order(
    rows, active_model_version, monkeypatch, django_assert_max_num_queries
):
    calls = []
    real = predict.predict_charges
    monkeypatch.setattr(predict, "predict_charges", lambda batch, model: calls.append(len(batch)) or real(batch, model))

    with django_assert_max_num_queries(5):  # the active version, savepoint, the ids, one COPY for all rows, release
        predictions = services.prediction_create_many(rows=rows, source=Prediction.Source.API)

    assert calls == [3]
    assert [p.pk for p in predictions] == sorted(p.pk for p in predictions)
    assert [(p.age, p.bmi, p.smoker) for p in predictions] == [(19, 27.9, "yes"), (45, 31.5, "no"), (19, 27.9, "yes")]
    stored = Prediction.objects.order_by("id")
    assert [s.predicted_charges for s in stored] == [p.predicted_charges for p in predictions]
    single = services.prediction_create(**rows[1], source=Prediction.Source.SHELL)
    assert predictions[1].predicted_charges == single.predicted_charges


@pytest.mark.django_db
def test_names_every_bad_row_by_index_and_stores_nothing(rows):
    rows[0] = {**rows[0], "age": 10}
    rows[2] = {**rows[2], "sex": "other", "bmi": ""}

    with pytest.raises(services.PredictionRowsError) as caught:
        services.prediction_create_many(rows=rows, source=Prediction.Source.API)

    assert caught.value.row_errors == {
        0: {"age": ["The age must be between 18 and 100."]},
        2: {"sex": ["Choose the sex from: female, male."], "bmi": ["Enter the BMI."]},
    }
    assert isinstance(caught.value, ValidationError)
    assert Prediction.objects.count() == 0


@pytest.mark.django_db
def test_a_row_that_is_not_a_record_is_named():
    with pytest.raises(services.PredictionRowsError) as caught:
        services.prediction_create_many(rows=["19,female"], source=Prediction.Source.API)
    assert caught.value.row_errors == {0: {"__all__": [services.NOT_A_RECORD]}}


@pytest.mark.django_db
def test_no_rows_is_an_error():
    with pytest.raises(ValidationError, match="no rows"):
        services.prediction_create_many(rows=[], source=Prediction.Source.API)


@pytest.mark.django_db
def test_a_failed_insert_leaves_neither_rows_nor_the_batch(rows, admin_user, locked_prediction_table):
    """A real failure: the prediction table is locked by another connection, so the COPY times out."""
    with pytest.raises(services.PredictionUnavailable) as caught:
        services.batch_create(rows=rows, file_name="members.csv", created_by=admin_user)
    assert isinstance(caught.value.__cause__, DatabaseError) and caught.value.kind == "database"
    locked_prediction_table()  # release the lock
    assert Batch.objects.count() == 0 and Prediction.objects.count() == 0


@pytest.mark.django_db
def test_batch_create_stores_the_batch_with_its_row_count(rows, admin_user):
    batch, predictions = services.batch_create(rows=rows, file_name="members.csv", created_by=admin_user)
    assert (batch.row_count, batch.created_by) == (3, admin_user)
    assert {p.batch_id for p in Prediction.objects.all()} == {batch.pk}
    assert {p.source for p in predictions} == {Prediction.Source.BATCH}


@pytest.mark.django_db
def test_progress_is_reported_for_each_stage(rows):
    seen = []
    services.prediction_create_many(rows=rows, source=Prediction.Source.API, progress=lambda *a: seen.append(a))
    assert seen == [("validated", 3), ("predicted", 0), ("predicted", 3), ("stored", 3)]
