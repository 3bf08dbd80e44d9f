"""views: the public form at / with its result page, the staff page that scores a CSV file, and /healthz."""

import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from predictor import selectors, serving
from predictor.features import FEATURES
from predictor.models import Prediction
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

# ---------------------------------------------------------------------------
# The form and the result page

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
    assert {name: getattr(row, name) for name in FEATURES} == valid_inputs
    assert row.source == Prediction.Source.WEB
    assert row.model_version.name == loaded_model.name
    assert row.model_version.active
    assert row.predicted_charges == Decimal("17076.04")  # tests/golden/predictions.csv

    page = client.get(response["Location"])
    html = page.content.decode()
    assert page.status_code == HTTPStatus.OK
    assert "$17,076<" in html  # whole dollars on the page; the API keeps cents
    assert str(valid_inputs["bmi"]) in html and valid_inputs["region"].title() in html
    assert reverse("predictor:predict") in html  # start again
    assert "extrapolation" not in html
    assert "Likely between <strong>$16,510</strong> and <strong>$17,290</strong>" in html  # to the nearest $10
    assert row.predicted_charges_low < row.predicted_charges < row.predicted_charges_high
    repeated = loaded_model.card["interval_calibration"]
    group = repeated["groups"]["smoker_not_obese"]
    assert (
        f"Over {repeated['repetitions']} repeated tests on past patients the model never saw, it held the actual "
        f"charges of {group['coverage'] * 100:.0f}% of the smokers with a BMI of 30 or less ({group['patients']} patients in the data)."
    ) in html


def test_reloading_the_result_page_does_not_store_again(client, valid_inputs):
    location = client.post(reverse("predictor:predict"), valid_inputs)["Location"]
    for _ in range(3):
        assert client.get(location).status_code == HTTPStatus.OK
    assert Prediction.objects.count() == 1


def test_result_link_cannot_be_guessed(client, valid_inputs):
    client.post(reverse("predictor:predict"), valid_inputs)
    row = Prediction.objects.get()
    assert client.get(reverse("predictor:result", kwargs={"token": str(row.pk)})).status_code == HTTPStatus.NOT_FOUND


def test_a_result_link_works_for_an_hour_then_answers_404(client, valid_inputs, signing_clock):
    location = client.post(reverse("predictor:predict"), valid_inputs)["Location"]
    signing_clock.advance(selectors.RESULT_MAX_AGE_SECONDS - 5)
    assert client.get(location).status_code == HTTPStatus.OK
    signing_clock.advance(10)
    response = client.get(location)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert "$17,076" not in response.content.decode()


def test_a_result_link_signed_for_another_purpose_answers_404(client, valid_inputs):
    from django.core import signing

    client.post(reverse("predictor:predict"), valid_inputs)
    row = Prediction.objects.get()
    forged = signing.dumps(row.pk, salt="not-the-result-salt")
    assert client.get(reverse("predictor:result", kwargs={"token": forged})).status_code == HTTPStatus.NOT_FOUND


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


def test_other_methods_are_refused_by_the_form(client):
    assert client.put(reverse("predictor:predict")).status_code == HTTPStatus.METHOD_NOT_ALLOWED


# ---------------------------------------------------------------------------
# /healthz: ready only when the database answers and the verified model is loaded


def test_ready_when_database_and_model_are(client, loaded_model):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "model": "ok",
        "model_version": loaded_model.name,
        "serving": "running",
    }


def test_a_pause_is_reported_by_healthz_which_still_answers_200(client, loaded_model, paused):
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.OK
    answer = response.json()
    assert (answer["status"], answer["serving"], answer["paused_since"]) == ("ok", "paused", paused.created_at.isoformat())
    assert "tests: paused" not in response.content.decode()  # the reason is staff's, not the public's


def test_while_paused_the_form_answers_503_saying_so_and_stores_nothing(client, valid_inputs, paused):
    response = client.post(reverse("predictor:predict"), valid_inputs)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "Our staff have paused the estimates for now" in response.content.decode()
    assert "$" not in response.content.decode()
    assert not Prediction.objects.exists()
    assert client.get(reverse("predictor:predict")).status_code == HTTPStatus.OK  # the page itself still shows


def test_while_paused_the_form_answers_503_in_chinese_too(client, valid_inputs, paused):
    response = client.post(reverse("predictor:predict"), valid_inputs, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "工作人员" in response.content.decode()


def test_the_result_page_shows_a_reviewed_charge_apart_from_the_models_estimate(client, valid_inputs, admin_user):
    from predictor.oversight import services as oversight

    client.post(reverse("predictor:predict"), valid_inputs)
    prediction = Prediction.objects.get()
    page = reverse("predictor:result", args=[selectors.prediction_result_token(prediction)])
    assert 'id="reviewed-charge"' not in client.get(page).content.decode()

    oversight.charge_override_record(
        prediction_id=prediction.pk, reviewed_charges="21000", reason="Reviewed", user=admin_user, channel="admin"
    )
    html = client.get(page).content.decode()

    assert re.search(r'id="reviewed-charge" data-charges="21000.00"', html) and "Reviewed charge: $21,000 a year." in html
    assert f'id="predicted-charges" data-charges="{prediction.predicted_charges}"' in html


def every_table_s_row_count() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


@pytest.mark.no_active_model
def test_on_a_freshly_migrated_database_it_answers_503_naming_that_no_version_is_active_and_writes_nothing(client):
    before = every_table_s_row_count()
    assert before["predictor.ModelVersion"] == 0
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    body = response.json()
    assert body["status"] == "unavailable" and body["database"] == "ok"
    assert body["model"].startswith("error: No model version is active.")
    assert "activate_model" in body["model"]
    statements = [query["sql"].lstrip().split(None, 1)[0].upper() for query in captured.captured_queries]
    assert statements and not {"INSERT", "UPDATE", "DELETE"} & set(statements), statements
    assert every_table_s_row_count() == before


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


def test_unavailable_when_the_model_artifact_is_missing(client, settings, tmp_path):
    settings.PREDICTOR_PIPELINE_PATH = tmp_path / "missing.pkl"
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response.json()["model"].startswith("error: The model artifact")
    assert response.json()["database"] == "ok"


@pytest.mark.no_active_model
def test_unavailable_when_the_active_version_has_no_artifact(client):
    ModelVersionFactory(name="vanished-model", active=True)
    response = client.get("/healthz")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "vanished-model.pkl is missing" in response.json()["model"]


def test_names_the_activated_version(client):
    serving.model_version_activate(name="huber-blend-v1")
    assert client.get("/healthz").json()["model_version"] == "huber-blend-v1"


# ---------------------------------------------------------------------------
# The result page explains: what drives the estimate, what if, in whole dollars


def result_html(client, inputs) -> str:
    return client.post(reverse("predictor:predict"), inputs, follow=True).content.decode()


def test_the_result_page_shows_what_drives_the_estimate_as_bars_and_sentences(client, valid_inputs):
    html = result_html(client, valid_inputs)
    assert 'id="drivers"' in html and html.count('class="driver"') == 6
    assert re.search(r"Smoking adds about \$\d{1,2},\d00 a year compared with a typical patient\.", html)
    assert '<svg class="bar"' in html and 'aria-hidden="true"' in html and "<script" not in html
    # Machines read the unrounded figures in data attributes, never localised.
    base = float(re.search(r'data-base-value="([\d.]+)"', html)[1])
    shares = [float(value) for value in re.findall(r'data-dollars="(-?[\d.]+)"', html)]
    assert abs(base + sum(shares) - float(Prediction.objects.get().predicted_charges)) < 0.05


def test_the_result_page_offers_what_ifs_worded_as_associations(client, valid_inputs):
    html = result_html(client, valid_inputs)
    assert 'id="what-if-not_smoking"' in html and 'id="what-if-bmi_25"' in html
    assert "an association, not a promise" in html
    assert Prediction.objects.count() == 1


def test_a_non_smoker_with_a_lean_bmi_sees_no_what_if(client, valid_inputs):
    html = result_html(client, {**valid_inputs, "smoker": "no", "bmi": 22})
    assert 'id="what-if"' not in html


def test_the_honesty_note_uses_repeated_splits_with_the_groups_patients_when_the_card_has_them(client, valid_inputs):
    from predictor.models import ModelVersion

    version = ModelVersion.objects.get(active=True)
    version.card = {
        **version.card,
        "interval_calibration": {"repetitions": 25, "groups": {"smoker_not_obese": {"coverage": 0.842, "patients": 126}}},
    }
    version.save()
    html = result_html(client, valid_inputs)
    assert (
        "Over 25 repeated tests on past patients the model never saw, it held the actual charges of 84% of the "
        "smokers with a BMI of 30 or less (126 patients in the data)."
    ) in html
