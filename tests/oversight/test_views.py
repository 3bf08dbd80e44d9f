"""The staff pages of oversight in the admin: override an estimate, pause or resume the service; and where the
reviewed charge shows apart from the estimate (the prediction's page, the CSV export, monitoring)."""

import csv
import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from predictor.models import ChargeOverride, ServingChange
from predictor.oversight import services as oversight

SERVING = reverse("admin:predictor_serving")


def override_url(prediction_id: int) -> str:
    return reverse("admin:predictor_prediction_override", args=[prediction_id])


@pytest.fixture
def reviewer_client(client, reviewer):
    client.force_login(reviewer)
    return client


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


# ---------------------------------------------------------------------------
# Override


def test_the_prediction_page_links_to_the_override_page_which_records_one(reviewer_client, stored):
    page = reviewer_client.get(reverse("admin:predictor_prediction_change", args=[stored.pk])).content.decode()
    assert override_url(stored.pk) in page

    response = reviewer_client.post(override_url(stored.pk), {"reviewed_charges": "15000", "reason": "Claims history"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("admin:predictor_prediction_change", args=[stored.pk])
    html = response.content.decode()
    assert f"the reviewed charge $15,000.00 is recorded over ${stored.predicted_charges:,}" in html
    assert "Overrides of the estimate" in html and "Claims history" in html  # the inline record on the prediction's page
    row = ChargeOverride.objects.get()
    assert (row.reviewed_charges, row.username, row.channel) == (Decimal("15000"), "reviewer", "admin")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"reviewed_charges": "15000", "reason": ""}, "Give the reason for the override"),
        ({"reviewed_charges": "-3", "reason": "why"}, "cannot be negative"),
        ({"reviewed_charges": "fifteen", "reason": "why"}, "as a number of dollars"),
        ({"reason": "why"}, "Enter the reviewed charge."),
    ],
)
def test_bad_input_shows_the_problem_by_the_field_and_stores_nothing(reviewer_client, stored, data, message):
    response = reviewer_client.post(override_url(stored.pk), data)

    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert message in response.content.decode() and "Nothing was recorded" in response.content.decode()
    assert not ChargeOverride.objects.exists()


def test_a_prediction_that_does_not_exist_answers_404(reviewer_client, stored):
    assert reviewer_client.get(override_url(stored.pk + 1)).status_code == HTTPStatus.NOT_FOUND
    assert reviewer_client.post(override_url(stored.pk + 1), {"reviewed_charges": "1", "reason": "x"}).status_code == HTTPStatus.NOT_FOUND
    assert not ChargeOverride.objects.exists()


def test_staff_without_the_permission_get_403_and_no_link(client, reader, stored):
    client.force_login(reader)
    assert override_url(stored.pk) not in client.get(reverse("admin:predictor_prediction_change", args=[stored.pk])).content.decode()
    response = client.post(override_url(stored.pk), {"reviewed_charges": "15000", "reason": "x"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert not ChargeOverride.objects.exists()


def test_the_csv_export_holds_the_estimate_and_the_reviewed_charge_in_their_own_columns(admin_client, admin_user, stored):
    oversight.charge_override_record(prediction_id=stored.pk, reviewed_charges="15000", reason="x", user=admin_user, channel="admin")

    response = admin_client.get(reverse("admin:predictor_prediction_export"))
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert Decimal(row["predicted_charges"]) == stored.predicted_charges
    assert (row["reviewed_charges"], row["reviewed_by"]) == ("15000.00", "admin")
    assert row["reviewed_at"].startswith(str(ChargeOverride.objects.get().created_at.date()))


def test_the_list_shows_the_reviewed_charge_column(admin_client, admin_user, stored):
    oversight.charge_override_record(prediction_id=stored.pk, reviewed_charges="15000", reason="x", user=admin_user, channel="admin")
    html = admin_client.get(reverse("admin:predictor_prediction_changelist")).content.decode()
    assert "Reviewed charge (staff override)" in html and "$15,000.00 by admin" in html


def test_the_record_of_overrides_is_read_only_in_the_admin(admin_client, admin_user, stored):
    row = oversight.charge_override_record(prediction_id=stored.pk, reviewed_charges="15000", reason="x", user=admin_user, channel="admin")
    assert admin_client.get(reverse("admin:predictor_chargeoverride_changelist")).status_code == HTTPStatus.OK
    assert admin_client.post(reverse("admin:predictor_chargeoverride_delete", args=[row.pk]), {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    assert ChargeOverride.objects.count() == 1


def test_a_superuser_deleting_a_prediction_deletes_its_overrides_with_it(admin_client, admin_user, stored):
    oversight.charge_override_record(prediction_id=stored.pk, reviewed_charges="15000", reason="x", user=admin_user, channel="admin")
    response = admin_client.post(reverse("admin:predictor_prediction_delete", args=[stored.pk]), {"post": "yes"})
    assert response.status_code == HTTPStatus.FOUND
    assert not ChargeOverride.objects.exists()


def test_monitoring_shows_the_overrides_apart_from_the_models_accuracy(admin_client, admin_user, stored):
    oversight.charge_override_record(prediction_id=stored.pk, reviewed_charges="15000", reason="x", user=admin_user, channel="admin")
    html = admin_client.get(reverse("admin:predictor_prediction_monitoring")).content.decode()
    assert "Staff overrides (apart from the model's accuracy)" in html
    assert "1 of the 1 predictions in this period\n    has a reviewed charge (1 override in all)" in html


# ---------------------------------------------------------------------------
# Pause and resume


def test_the_serving_page_pauses_and_resumes_and_shows_the_record(operator_client, valid_inputs):
    assert 'data-state="running"' in operator_client.get(SERVING).content.decode()

    response = operator_client.post(SERVING, {"action": "pause", "reason": "Drift alert"}, follow=True)
    html = response.content.decode()
    assert "The service is paused: no prediction is made or stored anywhere within 2 seconds." in html
    assert 'data-state="paused"' in html and "Drift alert" in html
    assert operator_client.post(reverse("predictor:predict"), valid_inputs).status_code == HTTPStatus.SERVICE_UNAVAILABLE

    response = operator_client.post(SERVING, {"action": "resume", "reason": ""}, follow=True)
    assert 'data-state="running"' in response.content.decode()
    assert list(ServingChange.objects.order_by("id").values_list("kind", "username", "channel")) == [
        ("pause", "operator", "admin"), ("resume", "operator", "admin"),
    ]


def test_pausing_twice_from_the_page_changes_nothing_and_says_so(operator_client, paused):
    response = operator_client.post(SERVING, {"action": "pause", "reason": "again"}, follow=True)
    assert "The service was already paused (since" in response.content.decode()
    assert ServingChange.objects.count() == 1


def test_a_pause_without_a_reason_or_action_is_refused_and_changes_nothing(operator_client):
    response = operator_client.post(SERVING, {"action": "pause", "reason": " "})
    assert response.status_code == HTTPStatus.BAD_REQUEST and "Give the reason for the pause" in response.content.decode()
    response = operator_client.post(SERVING, {"action": "stop", "reason": "x"})
    assert response.status_code == HTTPStatus.BAD_REQUEST and "Choose to pause or to resume" in response.content.decode()
    assert not ServingChange.objects.exists()


def test_staff_without_the_permission_cannot_pause(client, reader):
    client.force_login(reader)
    assert client.post(SERVING, {"action": "pause", "reason": "x"}).status_code == HTTPStatus.FORBIDDEN
    assert not ServingChange.objects.exists()


def test_the_record_of_pauses_links_to_the_page(operator_client, paused):
    html = operator_client.get(reverse("admin:predictor_servingchange_changelist")).content.decode()
    assert SERVING in html and "tests: paused" in html


def test_the_admin_home_says_whether_the_service_is_paused(operator_client):
    assert "The service is running." in operator_client.get(reverse("admin:index")).content.decode()
    oversight.serving_pause(reason="x", channel="command")  # another task's pause: the home page reads it fresh
    html = operator_client.get(reverse("admin:index")).content.decode()
    assert "<strong>The service is paused</strong>" in html and SERVING in html
