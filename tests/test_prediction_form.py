"""The public form at /: validation, storage, post/redirect/get and the result page."""

from http import HTTPStatus

import pytest
from django.urls import reverse

from predictor.ml import predict
from predictor.models import Prediction

pytestmark = pytest.mark.django_db

BAD_INPUTS = [
    # (field, submitted value, part of the message shown at the field)
    ("age", "forty", "Enter the age as a whole number"),
    ("age", "30.5", "Enter the age as a whole number"),
    ("age", "17", "The age must be between 18 and 100."),
    ("age", "101", "The age must be between 18 and 100."),
    ("age", "-5", "The age must be between 18 and 100."),
    ("age", "", "Enter the age."),
    ("age", "9" * 5000, "Enter the age as a whole number"),
    ("bmi", "abc", "Enter the BMI as a number"),
    ("bmi", "nan", "Enter the BMI as a number"),
    ("bmi", "NaN", "Enter the BMI as a number"),
    ("bmi", "inf", "Enter the BMI as a number"),
    ("bmi", "-Infinity", "Enter the BMI as a number"),
    ("bmi", "1e400", "Enter the BMI as a number"),
    ("bmi", "9.99", "The BMI must be between 10 and 70."),
    ("bmi", "70.01", "The BMI must be between 10 and 70."),
    ("bmi", "1" * 1000 + ".5", "Enter the BMI as a number"),
    ("children", "2.5", "Enter the number of children as a whole number"),
    ("children", "11", "The number of children must be between 0 and 10."),
    ("children", "-1", "The number of children must be between 0 and 10."),
    ("sex", "other", "Choose the sex from: female, male."),
    ("sex", "Female", "Choose the sex from: female, male."),
    ("smoker", "sometimes", "Choose the smoking status from: yes, no."),
    ("region", "north", "Choose the region from: northeast, northwest, southeast, southwest."),
    ("region", "", "Choose the region."),
]


def test_get_shows_every_field_with_its_label(client):
    response = client.get(reverse("predictor:predict"))
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    for name in ("age", "sex", "bmi", "children", "smoker", "region"):
        assert f'name="{name}"' in html
    assert 'type="number"' in html and 'type="radio"' in html and "<select" in html
    assert "Body mass index (BMI)" in html
    assert "csrfmiddlewaretoken" in html


@pytest.mark.parametrize("field,value,message", BAD_INPUTS, ids=[f"{f}={v[:12]!r}" for f, v, _ in BAD_INPUTS])
def test_bad_input_shows_its_message_at_the_field_and_stores_nothing(client, valid_inputs, field, value, message):
    response = client.post(reverse("predictor:predict"), {**valid_inputs, field: value})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert f'id="error-{field}"' in html
    assert message in html
    assert Prediction.objects.count() == 0


@pytest.mark.parametrize("missing", ["age", "sex", "bmi", "children", "smoker", "region"])
def test_missing_field_is_reported_and_nothing_is_stored(client, valid_inputs, missing):
    data = {key: value for key, value in valid_inputs.items() if key != missing}
    response = client.post(reverse("predictor:predict"), data)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert f'id="error-{missing}"' in response.content.decode()
    assert Prediction.objects.count() == 0


def test_valid_submission_stores_one_row_and_redirects_to_its_result(client, valid_inputs, loaded_model):
    response = client.post(reverse("predictor:predict"), valid_inputs)
    assert response.status_code == HTTPStatus.FOUND
    [row] = Prediction.objects.all()
    assert (row.age, row.sex, row.bmi, row.children, row.smoker, row.region) == (19, "female", 27.9, 0, "yes", "southwest")
    assert row.source == Prediction.Source.WEB
    assert row.model_version.name == loaded_model.name
    assert row.model_version.active
    [expected] = predict.predict_charges([valid_inputs], model=loaded_model)
    assert float(row.predicted_charges) == pytest.approx(expected, abs=0.005)

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == HTTPStatus.OK
    assert f"${row.predicted_charges:,}" in html
    assert "27.9" in html and "Southwest" in html
    assert reverse("predictor:predict") in html  # start again
    assert "extrapolation" not in html
    assert f"Likely between <strong>${row.predicted_charges_low:,}</strong>" in html
    assert f"${row.predicted_charges_high:,}" in html
    assert row.predicted_charges_low < row.predicted_charges < row.predicted_charges_high
    coverage = loaded_model.card["holdout"]["coverage_by_group"]["smoker_not_obese"]
    assert f"{coverage * 100:.0f}% of the smokers with a BMI of 30 or less" in html


def test_reloading_the_result_page_does_not_store_again(client, valid_inputs):
    location = client.post(reverse("predictor:predict"), valid_inputs)["Location"]
    for _ in range(3):
        assert client.get(location).status_code == HTTPStatus.OK
    assert Prediction.objects.count() == 1


def test_result_link_cannot_be_guessed(client, valid_inputs):
    client.post(reverse("predictor:predict"), valid_inputs)
    row = Prediction.objects.get()
    assert client.get(reverse("predictor:result", kwargs={"token": str(row.pk)})).status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "changes,flagged",
    [({"age": 70}, ["Age 70"]), ({"bmi": 60}, ["BMI 60"]), ({"children": 8, "age": 65}, ["Age 65", "Children covered 8"])],
)
def test_inputs_outside_the_training_range_are_accepted_but_flagged(client, valid_inputs, changes, flagged):
    response = client.post(reverse("predictor:predict"), {**valid_inputs, **changes}, follow=True)
    html = response.content.decode()
    assert "This estimate is an extrapolation." in html
    for text in flagged:
        assert text in html
    assert Prediction.objects.count() == 1


def test_training_range_edges_are_not_flagged(client, valid_inputs):
    response = client.post(
        reverse("predictor:predict"), {**valid_inputs, "age": 64, "bmi": 53.13, "children": 5}, follow=True
    )
    assert "extrapolation" not in response.content.decode()


def test_csrf_protection_is_on(valid_inputs):
    from django.test import Client

    response = Client(enforce_csrf_checks=True).post(reverse("predictor:predict"), valid_inputs)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert Prediction.objects.count() == 0


def test_database_failure_gives_503_and_no_number(client, valid_inputs, locked_prediction_table):
    response = client.post(reverse("predictor:predict"), valid_inputs)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    html = response.content.decode()
    assert "could not record your estimate" in html
    assert "$" not in html


def test_other_methods_are_refused(client):
    assert client.put(reverse("predictor:predict")).status_code == HTTPStatus.METHOD_NOT_ALLOWED
