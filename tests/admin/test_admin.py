"""The staff console: a read-only prediction history with filters and CSV export, model versions, batches."""

import csv
import io
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from predictor import services
from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT
from predictor.models import Batch, Prediction
from tests.factories import ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:predictor_prediction_changelist")
EXPORT = reverse("admin:predictor_prediction_export")


def export_rows(client, query: str = "") -> list[dict]:
    response = client.get(EXPORT + query)
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/csv"
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def staff_viewer(django_user_model, client):
    """A staff member who may only view the history (not a superuser)."""
    user = django_user_model.objects.create_user("viewer", password="pw-for-tests-only", is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_prediction", "view_modelversion", "delete_prediction"])
    )
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_the_login(client):
    for url in (CHANGELIST, EXPORT):
        response = client.get(url)
        assert response.status_code == HTTPStatus.FOUND
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_see_the_predictions_with_inputs_charge_version_and_time(admin_client):
    prediction = PredictionFactory(age=33, bmi=22.7, region="northwest")
    html = admin_client.get(CHANGELIST).content.decode()
    assert f"${prediction.predicted_charges:,}" in html
    assert prediction.model_version.name in html
    assert "22.7" in html and "Northwest" in html
    assert "Export these rows to CSV" in html


def test_the_list_makes_no_query_per_row(admin_client, django_assert_max_num_queries):
    version = ModelVersionFactory()
    PredictionFactory.create_batch(5, model_version=version)
    with django_assert_max_num_queries(20) as few:
        admin_client.get(CHANGELIST)
    PredictionFactory.create_batch(45, model_version=ModelVersionFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        admin_client.get(CHANGELIST)


def test_filters_narrow_the_list(admin_client):
    PredictionFactory(smoker="yes", region="southwest", source="web")
    PredictionFactory(smoker="no", region="northeast", source="shell")
    response = admin_client.get(CHANGELIST, {"smoker__exact": "yes"})
    assert response.context["cl"].result_count == 1
    response = admin_client.get(CHANGELIST, {"source__exact": "shell", "region__exact": "northeast"})
    assert response.context["cl"].result_count == 1
    html = response.content.decode()
    for title in ("By smoker", "By region", "By sex", "By source", "By model version", "By created at"):
        assert title in html


def test_csv_export_holds_exactly_the_filtered_rows(admin_client):
    smokers = PredictionFactory.create_batch(3, smoker="yes")
    PredictionFactory.create_batch(2, smoker="no")
    rows = export_rows(admin_client, "?smoker__exact=yes")
    assert sorted(int(row["id"]) for row in rows) == sorted(p.pk for p in smokers)
    assert set(rows[0]) == {
        "id", "created_at", "age", "sex", "bmi", "children", "smoker", "region",
        "predicted_charges", "predicted_charges_low", "predicted_charges_high", "model_version", "source", "batch",
        "actual_charges", "actual_recorded_by", "actual_recorded_at", "anonymised_at",
        "reviewed_charges", "reviewed_by", "reviewed_at",
    }
    first = next(row for row in rows if int(row["id"]) == smokers[0].pk)
    assert first["predicted_charges"] == str(smokers[0].predicted_charges)
    assert first["model_version"] == smokers[0].model_version.name
    assert len(export_rows(admin_client)) == 5


def test_csv_export_follows_the_search(admin_client):
    wanted = PredictionFactory()
    PredictionFactory()
    rows = export_rows(admin_client, f"?q={wanted.model_version.name}")
    assert [int(row["id"]) for row in rows] == [wanted.pk]


def test_csv_export_with_bad_filters_is_a_clear_400(admin_client):
    response = admin_client.get(EXPORT + "?created_at__gte=not-a-date")
    assert response.status_code == HTTPStatus.BAD_REQUEST


def test_adding_is_refused_and_the_inputs_stay_read_only_even_to_superusers(admin_client):
    prediction = PredictionFactory(age=40)
    assert admin_client.get(reverse("admin:predictor_prediction_add")).status_code == HTTPStatus.FORBIDDEN
    change_url = reverse("admin:predictor_prediction_change", args=[prediction.pk])
    # Only the actual charges are a field of the page (tests/monitoring/test_views.py); the rest is ignored.
    assert list(admin_client.get(change_url).context["adminform"].form.fields) == ["actual_charges"]
    admin_client.post(change_url, {"age": 99, "predicted_charges": "1"})
    prediction.refresh_from_db()
    assert prediction.age == 40 and prediction.predicted_charges == Decimal("12345.67")


def test_only_superusers_can_delete(admin_client, staff_viewer):
    prediction = PredictionFactory()
    delete_url = reverse("admin:predictor_prediction_delete", args=[prediction.pk])
    assert staff_viewer.post(delete_url, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    assert Prediction.objects.filter(pk=prediction.pk).exists()
    assert staff_viewer.get(CHANGELIST).status_code == HTTPStatus.OK  # but they can read the history
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == HTTPStatus.FOUND
    assert not Prediction.objects.filter(pk=prediction.pk).exists()


def test_staff_without_view_permission_cannot_export(client, django_user_model):
    user = django_user_model.objects.create_user("nobody", password="pw-for-tests-only", is_staff=True)
    client.force_login(user)
    assert client.get(EXPORT).status_code == HTTPStatus.FORBIDDEN


@pytest.mark.no_active_model
def test_model_versions_list_their_metrics_and_which_is_active(admin_client):
    ModelVersionFactory(name="old-model", active=False)
    ModelVersionFactory(name="served-model", active=True)
    response = admin_client.get(reverse("admin:predictor_modelversion_changelist"))
    html = response.content.decode()
    assert "old-model" in html and "served-model" in html
    assert "Holdout R²" in html and "0.85" in html
    assert response.context["cl"].result_count == 2
    assert admin_client.get(reverse("admin:predictor_modelversion_add")).status_code == HTTPStatus.FORBIDDEN


def test_model_report_shows_the_card_and_the_holdout_chart(admin_client, active_model_version, loaded_model):
    url = reverse("admin:predictor_modelversion_report", args=[active_model_version.pk])
    assert url in admin_client.get(reverse("admin:predictor_modelversion_changelist")).content.decode()
    response = admin_client.get(url)
    assert response.status_code == HTTPStatus.OK
    html = response.content.decode()
    holdout = loaded_model.card["holdout"]
    assert str(holdout["r2"]) in html
    assert f"{holdout['interval_coverage'] * 100:.0f}%" in html
    assert "<svg" in html
    assert html.count('class="inside"') + html.count('class="outside"') == holdout["rows"]
    assert html.count('class="band"') == holdout["rows"]
    # The groups read as on the result page (an independent list, not the code's own labels).
    for label in (
        "smokers with a BMI over 30", "smokers with a BMI of 30 or less",
        "non-smokers with a BMI over 30", "non-smokers with a BMI of 30 or less",
    ):
        assert f"<td>{label}</td>" in html


def test_model_report_without_a_chart_says_so(admin_client):
    version = ModelVersionFactory()
    html = admin_client.get(reverse("admin:predictor_modelversion_report", args=[version.pk])).content.decode()
    assert "holds no holdout predictions to plot" in html


def test_model_report_is_for_staff_only(client, active_model_version):
    url = reverse("admin:predictor_modelversion_report", args=[active_model_version.pk])
    assert client.get(url)["Location"].startswith(reverse("admin:login"))


def test_csv_export_includes_the_interval(admin_client):
    prediction = PredictionFactory(predicted_charges_low="100.00", predicted_charges_high="900.00")
    [row] = export_rows(admin_client)
    assert (row["predicted_charges_low"], row["predicted_charges_high"]) == ("100.00", "900.00")
    assert int(row["id"]) == prediction.pk


def test_search_by_id_finds_that_prediction_only(admin_client):
    wanted, other = PredictionFactory(), PredictionFactory()
    response = admin_client.get(CHANGELIST, {"q": str(wanted.pk)})
    assert [row.pk for row in response.context["cl"].result_list] == [wanted.pk]
    assert admin_client.get(CHANGELIST, {"q": "9" * 30}).context["cl"].result_count == 0
    assert admin_client.get(CHANGELIST).context["cl"].result_count == 2  # without the search, both


# ---------------------------------------------------------------------------
# Batches: CSV files scored at once


def test_the_batch_admin_links_to_the_page_and_to_the_batch_rows(admin_client, admin_user):
    third = {"age": 64, "sex": "female", "bmi": 40.0, "children": 3, "smoker": "no", "region": "southeast"}
    batch, _ = services.batch_create(columns=services.prediction_columns([SAMPLE_PATIENT, SECOND_PATIENT, third]), file_name="members.csv", created_by=admin_user)
    PredictionFactory()  # a row of no batch, which the batch's link leaves out

    changelist = admin_client.get("/admin/predictor/batch/").content.decode()
    assert 'href="/admin/predictor/batch/upload/"' in changelist and "Score a CSV file" in changelist
    rows_url = f"/admin/predictor/prediction/?batch__id__exact={batch.pk}"
    assert rows_url.replace("&", "&amp;") in changelist
    rows = admin_client.get(rows_url)
    assert rows.status_code == HTTPStatus.OK
    assert rows.context["cl"].result_count == 3
    detail = admin_client.get(f"/admin/predictor/batch/{batch.pk}/change/")
    assert detail.status_code == HTTPStatus.OK and "members.csv" in detail.content.decode()


def test_batches_cannot_be_added_or_changed_in_the_admin(admin_client, admin_user):
    assert admin_client.get("/admin/predictor/batch/add/").status_code == HTTPStatus.FORBIDDEN
    batch, _ = services.batch_create(columns=services.prediction_columns([SAMPLE_PATIENT]), file_name="members.csv", created_by=admin_user)
    response = admin_client.post(f"/admin/predictor/batch/{batch.pk}/change/", {"file_name": "renamed.csv"})
    assert response.status_code == HTTPStatus.FORBIDDEN
    batch.refresh_from_db()
    assert batch.file_name == "members.csv"
    assert Batch.objects.count() == 1


def test_model_report_shows_the_forecast_and_interval_calibration_over_repeated_splits(admin_client, active_model_version, loaded_model):
    html = admin_client.get(reverse("admin:predictor_modelversion_report", args=[active_model_version.pk])).content.decode()
    table = html.split('id="cohort-calibration"')[1].split("</table>")[0]
    for size, figures in loaded_model.card["cohort_calibration"].items():
        assert f"<td>{size} patients</td><td>{figures['coverage_90']:.1%}</td>" in table
        assert f"{figures['coverage_50']:.1%}" in table and f"{figures['mean_total_error']:+.1%}" in table
    assert "20 random 70/30 splits" in html
    repeated = loaded_model.card["interval_calibration"]["groups"]["smoker_not_obese"]
    assert f"{repeated['coverage'] * 100:.0f}% ({repeated['min'] * 100:.0f}–{repeated['max'] * 100:.0f}%; about 39 patients each)" in html
