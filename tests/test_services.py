"""services: prediction_create (validate, predict, store with one INSERT) and prediction_create_many / batch_create
(validate all, predict once, store all or nothing)."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.http import QueryDict

from predictor import services
from predictor.forms import PredictionForm
from predictor.features import FEATURES
from predictor.models import Batch, Prediction
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------
# prediction_create


def test_stores_the_inputs_the_charge_and_the_model_version(valid_inputs, loaded_model):
    prediction = services.prediction_create(**valid_inputs)
    stored = Prediction.objects.select_related("model_version").get(pk=prediction.pk)
    assert {name: getattr(stored, name) for name in FEATURES} == valid_inputs
    assert stored.source == Prediction.Source.SHELL
    assert stored.model_version.name == loaded_model.name
    assert stored.model_version.sha256 == loaded_model.sha256
    assert stored.predicted_charges == Decimal("17076.04")  # tests/golden/predictions.csv


def test_accepts_text_values_as_a_form_would(valid_inputs):
    prediction = services.prediction_create(**{key: str(value) for key, value in valid_inputs.items()})
    assert prediction.age == valid_inputs["age"] and prediction.bmi == valid_inputs["bmi"]
    assert prediction.predicted_charges == Decimal("17076.04")


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


FORM_POSTS = [
    {},
    {"age": "19", "sex": "female", "bmi": "27.9", "children": "0", "smoker": "yes", "region": "southwest"},
    {"age": " 64 ", "sex": "male", "bmi": "53", "children": "5", "smoker": "no", "region": "northeast"},
    {"age": "19.5", "sex": "Female", "bmi": "27,9", "children": "-1", "smoker": "", "region": "mars"},
    {"age": "17", "sex": "male", "bmi": "nan", "children": "6", "smoker": "no", "region": ""},
    {"age": "", "sex": "female", "bmi": "inf", "children": "two", "smoker": "yes", "region": "southeast"},
    {"age": "101", "sex": "male", "bmi": "1e3", "children": "0", "smoker": "no", "region": "northwest"},
]


@pytest.mark.parametrize("data", FORM_POSTS)
def test_cleaning_with_the_forms_fields_is_what_binding_the_form_gives(data):
    """The form view cleans a POST with ``prediction_input_clean`` and builds the form only to show its errors."""
    post = QueryDict(mutable=True)
    post.update(data)
    form = PredictionForm(post)
    if form.is_valid():
        assert services.prediction_input_clean(post) == form.cleaned_data
    else:
        with pytest.raises(ValidationError) as caught:
            services.prediction_input_clean(post)
        assert caught.value.message_dict == {field: list(messages) for field, messages in form.errors.items()}


def test_unknown_source_is_refused(valid_inputs):
    with pytest.raises(ValidationError) as caught:
        services.prediction_create(**valid_inputs, source="carrier-pigeon")
    assert "source" in caught.value.message_dict
    assert Prediction.objects.count() == 0


def test_stores_the_interval_around_the_charge(valid_inputs):
    prediction = services.prediction_create(**valid_inputs)
    assert prediction.predicted_charges_low == Decimal("16512.04")  # tests/golden/predictions.csv
    assert prediction.predicted_charges_high == Decimal("17292.04")
    assert prediction.predicted_charges_low < prediction.predicted_charges < prediction.predicted_charges_high


def test_a_prediction_costs_one_insert_once_the_active_model_is_known(valid_inputs, django_assert_num_queries):
    services.prediction_create(**valid_inputs)  # reads the active version
    with django_assert_num_queries(1) as captured:
        services.prediction_create(**valid_inputs)
    assert captured.captured_queries[0]["sql"].startswith("INSERT")


@pytest.mark.no_active_model
def test_an_active_version_whose_artifact_is_gone_is_refused(valid_inputs):
    ModelVersionFactory(name="deleted-model", active=True)
    with pytest.raises(services.PredictionUnavailable, match="deleted-model.pkl is missing") as caught:
        services.prediction_create(**valid_inputs)
    assert caught.value.kind == "model"
    assert Prediction.objects.count() == 0


@pytest.mark.no_active_model
def test_a_registered_name_with_another_hash_is_refused(valid_inputs, loaded_model):
    ModelVersionFactory(name=loaded_model.name, sha256="0" * 64, active=True)
    with pytest.raises(services.PredictionUnavailable, match="sha256"):
        services.prediction_create(**valid_inputs)
    assert Prediction.objects.count() == 0


@pytest.mark.no_active_model
def test_no_active_version_is_refused_and_nothing_is_stored(valid_inputs):
    with pytest.raises(services.PredictionUnavailable, match="No model version is active") as caught:
        services.prediction_create(**valid_inputs)
    assert caught.value.kind == "model"
    assert Prediction.objects.count() == 0


def test_database_failure_propagates_and_stores_nothing(valid_inputs, locked_prediction_table):
    with pytest.raises(services.PredictionUnavailable) as caught:
        services.prediction_create(**valid_inputs)
    assert isinstance(caught.value.__cause__, DatabaseError) and caught.value.kind == "database"


# ---------------------------------------------------------------------------
# prediction_create_many and batch_create


def cleaned_columns(rows: list[dict]) -> dict:
    return services.prediction_columns(services.prediction_rows_clean(rows))


@pytest.fixture
def rows(valid_inputs) -> list[dict]:
    return [valid_inputs, {**valid_inputs, "age": "45", "bmi": "31.5", "smoker": "no"}, {**valid_inputs, "children": 3}]


def test_predicts_every_row_in_one_call_and_stores_them_in_order(
    rows, valid_inputs, active_model_version, monkeypatch, django_assert_max_num_queries
):
    # Counting the calls needs a spy: nothing outside the service shows how many calls it made.
    calls = []
    real = services.predict_charges_columns
    monkeypatch.setattr(
        services, "predict_charges_columns", lambda columns, model: calls.append(len(columns["age"])) or real(columns, model)
    )

    # the pause, the active version, savepoint, the ids, one COPY for all rows, release
    with django_assert_max_num_queries(6):
        predictions = services.prediction_create_many(rows=rows, source=Prediction.Source.API)

    assert calls == [3]
    assert [p.pk for p in predictions] == sorted(p.pk for p in predictions)
    sample = (valid_inputs["age"], valid_inputs["bmi"], valid_inputs["smoker"])
    assert [(p.age, p.bmi, p.smoker) for p in predictions] == [sample, (45, 31.5, "no"), sample]
    assert predictions[0].predicted_charges == Decimal("17076.04")  # tests/golden/predictions.csv
    stored = Prediction.objects.order_by("id")
    assert [s.predicted_charges for s in stored] == [p.predicted_charges for p in predictions]
    single = services.prediction_create(**rows[1], source=Prediction.Source.SHELL)
    assert predictions[1].predicted_charges == single.predicted_charges


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


def test_a_row_that_is_not_a_record_is_named():
    with pytest.raises(services.PredictionRowsError) as caught:
        services.prediction_create_many(rows=["19,female"], source=Prediction.Source.API)
    assert caught.value.row_errors == {0: {"__all__": [services.NOT_A_RECORD]}}


def test_no_rows_is_an_error():
    with pytest.raises(ValidationError, match="no rows"):
        services.prediction_create_many(rows=[], source=Prediction.Source.API)


def test_a_failed_insert_leaves_neither_rows_nor_the_batch(rows, admin_user, locked_prediction_table):
    """A real failure: the prediction table is locked by another connection, so the COPY times out."""
    with pytest.raises(services.PredictionUnavailable) as caught:
        services.batch_create(columns=cleaned_columns(rows), file_name="members.csv", created_by=admin_user)
    assert isinstance(caught.value.__cause__, DatabaseError) and caught.value.kind == "database"
    locked_prediction_table()  # release the lock
    assert Batch.objects.count() == 0 and Prediction.objects.count() == 0


def test_batch_create_stores_the_batch_with_its_row_count(rows, admin_user):
    batch, stored = services.batch_create(columns=cleaned_columns(rows), file_name="members.csv", created_by=admin_user)
    assert (batch.row_count, batch.created_by) == (3, admin_user)
    assert {p.batch_id for p in Prediction.objects.all()} == {batch.pk}
    assert {p.source for p in stored.predictions()} == {Prediction.Source.BATCH}
    # A batch's rows are found by their batch, so no id is read back (sparing a sequence call per row);
    # the table numbers them in the file's order.
    assert stored.ids == []
    in_order = Prediction.objects.order_by("id").values_list("age", "bmi", "predicted_charges")
    assert list(in_order) == [
        (int(row["age"]), float(row["bmi"]), charge) for row, charge in zip(rows, map(Decimal, stored.charges))
    ]


def test_rows_without_a_batch_get_their_ids_back_in_order(rows):
    stored = services.prediction_create_many_cleaned(columns=cleaned_columns(rows), source=Prediction.Source.API)
    assert list(Prediction.objects.order_by("id").values_list("id", flat=True)) == stored.ids
    assert [prediction.pk for prediction in stored.predictions()] == stored.ids


def test_progress_is_reported_for_each_stage(rows):
    seen = []
    services.prediction_create_many(rows=rows, source=Prediction.Source.API, progress=lambda *a: seen.append(a))
    assert seen == [("validated", 3), ("predicted", 0), ("predicted", 3), ("stored", 3)]
