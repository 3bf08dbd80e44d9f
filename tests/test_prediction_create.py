"""services.prediction_create: the one call that validates, predicts and stores."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError

from predictor import services, serving
from predictor.ml import artifacts, predict
from predictor.models import ModelVersion, Prediction

pytestmark = pytest.mark.django_db


def test_stores_the_inputs_the_charge_and_the_model_version(valid_inputs, loaded_model):
    prediction = services.prediction_create(**valid_inputs)
    stored = Prediction.objects.select_related("model_version").get(pk=prediction.pk)
    assert stored.age == 19 and stored.sex == "female" and stored.bmi == 27.9
    assert stored.children == 0 and stored.smoker == "yes" and stored.region == "southwest"
    assert stored.source == Prediction.Source.SHELL
    assert stored.model_version.name == loaded_model.name
    assert stored.model_version.sha256 == loaded_model.sha256
    [expected] = predict.predict_charges([valid_inputs], model=loaded_model)
    assert stored.predicted_charges == Decimal(str(round(expected, 2)))


def test_accepts_text_values_as_a_form_would(valid_inputs):
    prediction = services.prediction_create(**{key: str(value) for key, value in valid_inputs.items()})
    assert prediction.age == 19 and prediction.bmi == 27.9


def test_predictions_differ_with_the_inputs(valid_inputs):
    smoker = services.prediction_create(**valid_inputs)
    non_smoker = services.prediction_create(**{**valid_inputs, "smoker": "no"})
    assert smoker.predicted_charges > non_smoker.predicted_charges + 10_000


def test_invalid_input_raises_with_a_message_per_field_and_stores_nothing(valid_inputs):
    with pytest.raises(ValidationError) as caught:
        services.prediction_create(**{**valid_inputs, "age": 12, "region": "mars", "bmi": float("nan")})
    assert set(caught.value.message_dict) == {"age", "region", "bmi"}
    assert caught.value.message_dict["age"] == ["The age must be between 18 and 100."]
    assert Prediction.objects.count() == 0


def test_unknown_source_is_refused(valid_inputs):
    with pytest.raises(ValidationError) as caught:
        services.prediction_create(**valid_inputs, source="carrier-pigeon")
    assert "source" in caught.value.message_dict
    assert Prediction.objects.count() == 0


def test_registers_the_default_model_once_and_marks_it_active(valid_inputs, loaded_model):
    services.prediction_create(**valid_inputs)
    serving.model_serving_reset()
    services.prediction_create(**valid_inputs)
    [version] = ModelVersion.objects.all()
    assert version.active and version.name == loaded_model.name
    assert version.metrics == {"cv": loaded_model.card["cv"], "holdout": loaded_model.card["holdout"]}


def test_stores_the_interval_around_the_charge(valid_inputs, loaded_model):
    prediction = services.prediction_create(**valid_inputs)
    [(charge, low, high)] = predict.predict_charges_with_interval([valid_inputs], model=loaded_model)
    assert prediction.predicted_charges_low == Decimal(str(round(low, 2)))
    assert prediction.predicted_charges_high == Decimal(str(round(high, 2)))
    assert prediction.predicted_charges_low < prediction.predicted_charges < prediction.predicted_charges_high


def test_a_prediction_costs_one_insert_once_the_active_model_is_known(valid_inputs, django_assert_num_queries):
    services.prediction_create(**valid_inputs)  # reads (and here registers) the active version
    with django_assert_num_queries(1) as captured:
        services.prediction_create(**valid_inputs)
    assert captured.captured_queries[0]["sql"].startswith("INSERT")


def test_activating_another_model_switches_new_predictions_and_keeps_old_ones(valid_inputs, loaded_model):
    before = services.prediction_create(**valid_inputs)
    serving.model_version_activate(name="tutorial-lr-v1")
    after = services.prediction_create(**valid_inputs)
    before.refresh_from_db()
    assert before.model_version.name == loaded_model.name
    assert after.model_version.name == "tutorial-lr-v1"
    assert after.predicted_charges_low is None  # the tutorial model has no interval
    assert list(ModelVersion.objects.filter(active=True).values_list("name", flat=True)) == ["tutorial-lr-v1"]
    [tutorial_charge] = predict.predict_charges([valid_inputs], model=artifacts.get_model("tutorial-lr-v1"))
    assert after.predicted_charges == Decimal(str(round(tutorial_charge, 2)))


@pytest.mark.no_active_model
def test_an_active_version_whose_artifact_is_gone_is_refused(valid_inputs):
    from tests.factories import ModelVersionFactory

    ModelVersionFactory(name="deleted-model", active=True)
    with pytest.raises(services.PredictionUnavailable, match="deleted-model.pkl is missing"):
        services.prediction_create(**valid_inputs)
    assert Prediction.objects.count() == 0


@pytest.mark.no_active_model
def test_a_registered_name_with_another_hash_is_refused(valid_inputs, loaded_model):
    from tests.factories import ModelVersionFactory

    ModelVersionFactory(name=loaded_model.name, sha256="0" * 64, active=True)
    with pytest.raises(services.PredictionUnavailable, match="sha256"):
        services.prediction_create(**valid_inputs)
    assert Prediction.objects.count() == 0


def test_database_failure_propagates_and_stores_nothing(valid_inputs, locked_prediction_table):
    with pytest.raises(services.PredictionUnavailable) as caught:
        services.prediction_create(**valid_inputs)
    assert isinstance(caught.value.__cause__, DatabaseError) and caught.value.kind == "database"
