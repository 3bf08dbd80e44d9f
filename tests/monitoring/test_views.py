"""The staff console's monitoring: actual charges on a prediction's page, the CSV upload page, the monitoring
page and the admin index's headline."""

import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from predictor.models import ActualChargeChange, Prediction
from tests.factories import ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db

MONITORING = reverse("admin:predictor_prediction_monitoring")
UPLOAD = reverse("admin:predictor_prediction_actuals")
CHANGELIST = reverse("admin:predictor_prediction_changelist")


def text(response) -> str:
    """A page's HTML with its runs of white space made one space, as a browser shows it."""
    return re.sub(r"\s+", " ", response.content.decode())


def staff_client(client, django_user_model, *codenames, name="staff"):
    user = django_user_model.objects.create_user(name, password="pw-for-tests-only", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


@pytest.fixture
def viewer(client, django_user_model):
    """Staff who may read the history, not record anything."""
    return staff_client(client, django_user_model, "view_prediction", "view_modelversion")


@pytest.fixture
def clerk(client, django_user_model):
    """Staff who may read the history and record actual charges."""
    return staff_client(client, django_user_model, "view_prediction", "record_actual_charges", name="clerk")


def change_url(prediction: Prediction) -> str:
    return reverse("admin:predictor_prediction_change", args=[prediction.pk])


def change_form_data(client, prediction: Prediction, **values) -> dict:
    """What the browser posts: the page's own management forms for the read-only inlines (the overrides and
    the audit trail of actual charges), and the values."""
    context = client.get(change_url(prediction)).context
    data = {}
    for formset in context["inline_admin_formsets"]:
        management = formset.formset.management_form
        data.update({f"{management.prefix}-{name}": management[name].value() for name in management.fields})
    return {**data, **values}


# ---------------------------------------------------------------------------
# A prediction's page: the one field staff may set


def test_staff_with_the_permission_set_the_actual_charges_and_nothing_else(clerk):
    prediction = PredictionFactory(age=40, predicted_charges=Decimal("9000.00"))
    data = change_form_data(clerk, prediction, actual_charges="10123.456", age="99", predicted_charges="1")
    response = clerk.post(change_url(prediction), data)
    assert response.status_code == HTTPStatus.FOUND
    stored = Prediction.objects.get(pk=prediction.pk)
    assert stored.actual_charges == Decimal("10123.46")
    assert (stored.age, stored.predicted_charges) == (40, Decimal("9000.00"))
    assert stored.actual_recorded_by.username == "clerk" and stored.actual_recorded_at is not None
    [change] = ActualChargeChange.objects.all()
    assert (change.previous_charges, change.actual_charges, change.channel) == (None, Decimal("10123.46"), "admin")


def test_a_change_shows_in_the_audit_trail_on_the_page(clerk):
    prediction = PredictionFactory()
    clerk.post(change_url(prediction), change_form_data(clerk, prediction, actual_charges="500"))
    clerk.post(change_url(prediction), change_form_data(clerk, prediction, actual_charges="650.25"))
    html = clerk.get(change_url(prediction)).content.decode()
    assert "the audit trail" in html
    assert "500.00" in html and "650.25" in html and "Admin form" in html
    assert list(ActualChargeChange.objects.order_by("id").values_list("previous_charges", "actual_charges")) == [
        (None, Decimal("500.00")), (Decimal("500.00"), Decimal("650.25")),
    ]


def test_an_empty_value_clears_a_wrong_one_and_the_trail_keeps_it(clerk):
    prediction = PredictionFactory(actual_charges=Decimal("12.00"))
    clerk.post(change_url(prediction), change_form_data(clerk, prediction, actual_charges=""))
    assert Prediction.objects.get(pk=prediction.pk).actual_charges is None
    assert ActualChargeChange.objects.get().previous_charges == Decimal("12.00")


@pytest.mark.parametrize(
    ("value", "message"),
    [("-5", "cannot be negative"), ("2000000", "more than $1,000,000"), ("12,000", "as a number of dollars")],
)
def test_a_bad_amount_is_shown_by_the_field_and_nothing_is_stored(clerk, value, message):
    prediction = PredictionFactory()
    response = clerk.post(change_url(prediction), change_form_data(clerk, prediction, actual_charges=value))
    assert response.status_code == HTTPStatus.OK
    assert message in response.content.decode()
    assert Prediction.objects.get(pk=prediction.pk).actual_charges is None
    assert not ActualChargeChange.objects.exists()


def test_staff_without_the_permission_see_the_page_read_only_and_cannot_post(viewer):
    prediction = PredictionFactory()
    page = viewer.get(change_url(prediction))
    assert page.status_code == HTTPStatus.OK
    assert 'name="actual_charges"' not in page.content.decode()
    assert viewer.post(change_url(prediction), {"actual_charges": "5"}).status_code == HTTPStatus.FORBIDDEN
    assert Prediction.objects.get(pk=prediction.pk).actual_charges is None


def test_the_list_shows_and_filters_actual_charges(viewer):
    PredictionFactory(actual_charges=Decimal("4321.00"))
    PredictionFactory()
    html = viewer.get(CHANGELIST).content.decode()
    assert "$4,321.00" in html and "Monitoring" in html
    assert viewer.get(CHANGELIST, {"actual_charges__isempty": "0"}).context["cl"].result_count == 1
    assert viewer.get(CHANGELIST, {"actual_charges__isempty": "1"}).context["cl"].result_count == 1


def test_the_export_has_the_actual_charges_and_who_recorded_them(clerk):
    import csv
    import io

    prediction = PredictionFactory()
    clerk.post(change_url(prediction), change_form_data(clerk, prediction, actual_charges="77"))
    response = clerk.get(reverse("admin:predictor_prediction_export"))
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert (row["actual_charges"], row["actual_recorded_by"]) == ("77.00", "clerk")
    assert row["actual_recorded_at"]


# ---------------------------------------------------------------------------
# The upload page


def upload(client, text: str, name: str = "billed.csv"):
    return client.post(UPLOAD, {"file": SimpleUploadedFile(name, text.encode(), content_type="text/csv")})


def test_a_good_file_is_recorded_whole_and_the_page_says_what_changed(clerk):
    first, second = PredictionFactory.create_batch(2)
    content = f"prediction_id,actual_charges\n{first.pk},1000\n{second.pk},2000\n"
    response = upload(clerk, content)
    assert response.status_code == HTTPStatus.FOUND and response["Location"] == UPLOAD
    message = text(clerk.get(UPLOAD))
    assert "Recorded billed.csv: 2 rows read; 2 actual charges recorded or changed, 0 already had that value." in message
    assert ActualChargeChange.objects.filter(channel="upload", changed_by__username="clerk").count() == 2
    upload(clerk, content)
    assert "0 actual charges recorded or changed, 2 already had that value" in text(clerk.get(UPLOAD))


def test_a_bad_file_lists_its_problems_by_line_and_stores_nothing(clerk):
    prediction = PredictionFactory()
    response = upload(clerk, f"prediction_id,actual_charges\n{prediction.pk},10\n{prediction.pk + 50},abc\n")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    html = response.content.decode()
    assert "billed.csv was not recorded: 1 bad line. Nothing was stored." in html
    assert f"line 3: prediction_id: there is no prediction {prediction.pk + 50}." in html
    assert "line 3: actual_charges: Enter the actual charges as a number of dollars" in html
    assert Prediction.objects.get(pk=prediction.pk).actual_charges is None


def test_a_file_over_the_size_limit_is_refused(clerk, settings):
    settings.PREDICTOR_BATCH_PAGE_MAX_BYTES = 10
    response = upload(clerk, "prediction_id,actual_charges\n1,2\n")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert "manage.py record_actuals" in response.content.decode()


def test_the_upload_page_needs_the_record_permission(viewer, client):
    assert viewer.get(UPLOAD).status_code == HTTPStatus.FORBIDDEN
    assert upload(viewer, "prediction_id,actual_charges\n").status_code == HTTPStatus.FORBIDDEN


# ---------------------------------------------------------------------------
# The monitoring page and the index


def test_anonymous_visitors_are_sent_to_the_login(client):
    for url in (MONITORING, UPLOAD):
        response = client.get(url)
        assert response.status_code == HTTPStatus.FOUND and response["Location"].startswith(reverse("admin:login"))


def test_staff_without_the_view_permission_are_forbidden(client, django_user_model):
    assert staff_client(client, django_user_model).get(MONITORING).status_code == HTTPStatus.FORBIDDEN


def test_the_page_shows_each_section_filtered_by_period_and_model(viewer):
    version = ModelVersionFactory(name="model-x")
    PredictionFactory.create_batch(3, model_version=version, actual_charges=Decimal("15000"))
    page = viewer.get(MONITORING, {"since": "2000-01-01", "until": "2999-12-31", "model": "model-x"})
    assert page.status_code == HTTPStatus.OK
    html = text(page)
    assert "Model model-x, predictions made from 2000-01-01 to 2999-12-31 (UTC)" in html
    for section in ("monitoring-overall", "monitoring-by-month", "monitoring-by-group", "monitoring-by-region",
                    "monitoring-by-version", "monitoring-scatter", "monitoring-volume"):
        assert f'id="{section}"' in html, section
    # The factory's card has no drift reference: the page says so and how to add one.
    assert 'id="monitoring-drift-missing"' in html and "add_drift_reference model-x" in html


@pytest.mark.parametrize(
    "query", [{"since": "2026-02-30"}, {"since": "2026-03-01", "until": "2026-02-01"}, {"model": "no-such-model"}]
)
def test_bad_filters_are_a_clear_400(viewer, query):
    response = viewer.get(MONITORING, query)
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert 'class="errornote"' in response.content.decode()


def test_the_page_shows_alerts_and_drift(viewer, active_model_version):
    for index in range(30):
        PredictionFactory(
            model_version=active_model_version, age=64, smoker="yes", bmi=25.0, region="southwest",
            predicted_charges=Decimal("10000"), predicted_charges_low=Decimal("9000"),
            predicted_charges_high=Decimal("12000"), actual_charges=Decimal("15000"),
        )
    html = viewer.get(MONITORING).content.decode()
    assert 'id="monitoring-alerts"' in html
    assert "coverage: all predictions: the 90% interval held for 0.0% of 30 predictions" in html
    assert "drift: smoker: PSI" in html and "drift: age: PSI" in html
    assert 'id="monitoring-drift"' in html


def test_the_index_shows_the_headline_and_alerts_to_history_readers(viewer, active_model_version):
    html = viewer.get(reverse("admin:index")).content.decode()
    assert 'id="monitoring-headline"' in html and "No prediction has actual charges yet" in html
    assert MONITORING in html
    PredictionFactory.create_batch(
        30, model_version=active_model_version, predicted_charges=Decimal("10000"), predicted_charges_low=Decimal("9000"),
        predicted_charges_high=Decimal("12000"), actual_charges=Decimal("15000"),
    )
    html = text(viewer.get(reverse("admin:index")))
    assert "30 predictions with actual charges (of 30): MAE $5,000" in html
    assert 'id="monitoring-headline-alerts"' in html and "coverage: all predictions" in html


def test_the_index_has_no_headline_for_staff_who_cannot_read_the_history(client, django_user_model):
    html = staff_client(client, django_user_model).get(reverse("admin:index")).content.decode()
    assert 'id="monitoring-headline"' not in html


def test_the_index_works_when_the_headline_cannot_be_read(viewer, locked_prediction_table):
    """A real database failure: another session locks the prediction table and the query gives up."""
    response = viewer.get(reverse("admin:index"))
    assert response.status_code == HTTPStatus.OK
    assert "The monitoring figures could not be read right now" in response.content.decode()
    assert "Insurance charges predictor" in response.content.decode()  # the rest of the page


def test_without_postgresql_the_page_says_monitoring_needs_it(viewer, monkeypatch):
    from django.db import connection

    monkeypatch.setattr(connection, "vendor", "sqlite")
    response = viewer.get(MONITORING)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "Monitoring aggregates in PostgreSQL" in response.content.decode()
    assert "Monitoring aggregates in PostgreSQL" in viewer.get(reverse("admin:index")).content.decode()
