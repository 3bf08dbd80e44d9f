"""The staff access audit (predictor/access_log.py): one entry per read of stored data, at every access point,
with the right who, where, what, filter and row count; nothing for refused requests; fail closed."""

import csv
import io
import json
from datetime import timedelta
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from predictor import services
from predictor.examples import SAMPLE_PATIENT
from predictor.models import AccessLogEntry, Batch, Prediction
from predictor.security import access_log, tokens
from tests.conftest import table_locked
from tests.factories import PredictionFactory, random_valid_rows

pytestmark = pytest.mark.django_db

Action = AccessLogEntry.Action
EXPORT = reverse("admin:predictor_prediction_export")
MONITORING = reverse("admin:predictor_prediction_monitoring")
COLUMNS = ("age", "sex", "bmi", "children", "smoker", "region")
# Behind the load balancer (PREDICTOR_PROXY_HOPS=1): the client put 6.6.6.6 in front, the load balancer
# appended the address it saw, 198.51.100.7; the socket's peer is the load balancer itself.
FORWARDED = {"REMOTE_ADDR": "10.0.1.5", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 198.51.100.7"}
CLIENT = "198.51.100.7"


@pytest.fixture(autouse=True)
def behind_the_load_balancer(settings):
    settings.PREDICTOR_PROXY_HOPS = 1


@pytest.fixture
def token(admin_user):
    """(row, key) of an API token of the superuser."""
    return tokens.api_token_create(user=admin_user, name="claims intake")


@pytest.fixture
def bearer(token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {token[1]}", **FORWARDED}


@pytest.fixture
def locked_access_log(db):
    """A real database failure on the access log alone: another connection holds an exclusive lock on
    its table and this connection gives up waiting after 300 ms (as tests/conftest.py's locked_prediction_table)."""
    yield from table_locked("predictor_accesslogentry")


def only_entry() -> AccessLogEntry:
    [entry] = AccessLogEntry.objects.all()
    return entry


def assert_who_and_where(entry: AccessLogEntry, user, action: str, path: str) -> None:
    assert (entry.user, entry.username, entry.ip, entry.action, entry.path, entry.command) == (
        user, user.username, CLIENT, action, path, ""
    )


def csv_file(rows, name="members.csv") -> SimpleUploadedFile:
    text = ",".join(COLUMNS) + "\n" + "".join(",".join(str(row[c]) for c in COLUMNS) + "\n" for row in rows)
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def json_post(client, url, payload, **extra):
    return client.post(url, json.dumps(payload), content_type="application/json", **extra)


# ---------------------------------------------------------------------------
# The admin's CSV export of predictions


def test_an_admin_export_is_recorded_once_with_its_filter_and_the_rows_sent(admin_client, admin_user):
    PredictionFactory.create_batch(3, smoker="yes")
    PredictionFactory.create_batch(2, smoker="no")

    response = admin_client.get(EXPORT + "?smoker__exact=yes&region__exact=southwest&region__exact=northeast", **FORWARDED)
    sent = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.PREDICTIONS_EXPORT, EXPORT)
    assert entry.filters == {"smoker__exact": "yes", "region__exact": ["southwest", "northeast"]}
    expected = Prediction.objects.filter(smoker="yes", region__in=["southwest", "northeast"]).count()
    assert entry.row_count == len(sent) == expected


def test_the_export_is_recorded_before_its_first_byte_and_corrected_to_the_rows_it_sent(admin_client):
    PredictionFactory.create_batch(2, smoker="yes")

    response = admin_client.get(EXPORT + "?smoker__exact=yes")
    assert only_entry().row_count == 2  # recorded, nothing streamed yet
    PredictionFactory(smoker="yes")  # stored between the record and the stream
    sent = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert len(sent) == 3
    assert only_entry().row_count == 3


def test_an_export_with_bad_filters_is_refused_and_recorded_nowhere(admin_client):
    assert admin_client.get(EXPORT + "?created_at__gte=not-a-date").status_code == HTTPStatus.BAD_REQUEST
    assert not AccessLogEntry.objects.exists()


def test_an_export_that_cannot_be_recorded_answers_503_and_sends_no_row(admin_client, locked_access_log):
    PredictionFactory.create_batch(2)

    response = admin_client.get(EXPORT)

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert not getattr(response, "streaming", False)
    assert "could not be recorded in the staff access log" in response.render().content.decode()
    locked_access_log()
    assert not AccessLogEntry.objects.exists()


def test_an_export_whose_predictions_cannot_be_read_answers_503_not_500(admin_client, locked_prediction_table):
    response = admin_client.get(EXPORT)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert "The database did not answer" in response.render().content.decode()


# ---------------------------------------------------------------------------
# A prediction's admin page


def test_each_get_of_a_predictions_admin_page_is_recorded(admin_client, admin_user):
    prediction = PredictionFactory()
    url = reverse("admin:predictor_prediction_change", args=[prediction.pk])

    assert admin_client.get(url, **FORWARDED).status_code == HTTPStatus.OK

    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.PREDICTION_VIEW, url)
    assert (entry.filters, entry.row_count) == ({"prediction": prediction.pk}, 1)
    admin_client.get(url)
    assert AccessLogEntry.objects.count() == 2


def test_a_missing_prediction_or_a_user_without_permission_is_not_recorded(admin_client, client, django_user_model):
    prediction = PredictionFactory()
    assert admin_client.get(reverse("admin:predictor_prediction_change", args=[prediction.pk + 1])).status_code == HTTPStatus.FOUND
    client.force_login(django_user_model.objects.create_user("clerk", password="x", is_staff=True))
    url = reverse("admin:predictor_prediction_change", args=[prediction.pk])
    assert client.get(url).status_code == HTTPStatus.FORBIDDEN
    assert not AccessLogEntry.objects.exists()


def test_a_predictions_page_that_cannot_be_recorded_answers_503_without_the_patient(admin_client, locked_access_log):
    prediction = PredictionFactory(bmi=31.337)

    response = admin_client.get(reverse("admin:predictor_prediction_change", args=[prediction.pk]))

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    html = response.render().content.decode()
    assert "could not be recorded" in html and "31.337" not in html


# ---------------------------------------------------------------------------
# The batch page's scored download


def test_a_batch_download_is_recorded_with_its_file_batch_and_rows(admin_client, admin_user):
    text = "age,sex,bmi,children,smoker,region\n19,female,27.9,0,yes,southwest\n33,male,22.705,0,no,northwest\n"
    response = admin_client.post("/admin/predictor/batch/upload/", {"file": SimpleUploadedFile("members.csv", text.encode())}, **FORWARDED)

    assert response.status_code == HTTPStatus.OK
    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.BATCH_DOWNLOAD, "/admin/predictor/batch/upload/")
    assert entry.filters == {"file_name": "members.csv", "batch": int(response["X-Batch-Id"])}
    assert entry.row_count == len(response.content.decode().splitlines()) - 1 == 2


def test_a_rejected_batch_file_is_not_recorded(admin_client):
    text = "age,sex,bmi,children,smoker,region\n17,female,27.9,0,yes,southwest\n"
    response = admin_client.post("/admin/predictor/batch/upload/", {"file": SimpleUploadedFile("bad.csv", text.encode())})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not AccessLogEntry.objects.exists()


def test_a_batch_that_cannot_be_recorded_is_not_stored_and_answers_503(admin_client, locked_access_log):
    text = "age,sex,bmi,children,smoker,region\n19,female,27.9,0,yes,southwest\n"

    response = admin_client.post("/admin/predictor/batch/upload/", {"file": SimpleUploadedFile("members.csv", text.encode())})

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert response["Content-Type"].startswith("text/html")
    assert "could not be recorded" in response.content.decode()
    locked_access_log()
    assert (Batch.objects.count(), Prediction.objects.count(), AccessLogEntry.objects.count()) == (0, 0, 0)


# ---------------------------------------------------------------------------
# The forecast page


def test_a_forecast_of_stored_predictions_on_the_page_is_recorded_with_its_filter_and_patients(admin_client, admin_user):
    rows = random_valid_rows(40, seed=5)
    services.prediction_create_many(rows=rows, source="web")
    southeast = sum(row["region"] == "southeast" for row in rows)
    today = timezone.now().date()

    response = admin_client.get(
        "/admin/predictor/prediction/forecast/", {"cohort": "stored", "region": "southeast", "since": f"{today:%Y-%m-%d}"}, **FORWARDED
    )

    assert response.status_code == HTTPStatus.OK
    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.FORECAST_STORED, "/admin/predictor/prediction/forecast/")
    assert entry.filters == {"region": "southeast", "since": f"{today:%Y-%m-%d}"}
    assert entry.row_count == southeast > 0


def test_a_forecast_of_a_file_on_the_page_is_recorded(admin_client, admin_user):
    response = admin_client.post("/admin/predictor/prediction/forecast/", {"file": csv_file(random_valid_rows(7, seed=2)), "seed": 4}, **FORWARDED)

    assert response.status_code == HTTPStatus.OK
    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.FORECAST_FILE, "/admin/predictor/prediction/forecast/")
    assert (entry.filters, entry.row_count) == ({"file_name": "members.csv", "store": False, "seed": 4}, 7)


def test_an_invalid_forecast_filter_is_not_recorded(admin_client):
    response = admin_client.get("/admin/predictor/prediction/forecast/", {"cohort": "stored", "since": "2025-02-01", "until": "2025-01-01"})
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert not AccessLogEntry.objects.exists()


def test_a_stored_forecast_file_that_cannot_be_recorded_answers_503_and_stores_nothing(admin_client, locked_access_log):
    response = admin_client.post("/admin/predictor/prediction/forecast/", {"file": csv_file(random_valid_rows(5, seed=1)), "store": "on"})

    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    html = response.content.decode()
    assert "could not be recorded" in html and 'id="expected-total"' not in html
    locked_access_log()
    assert (Batch.objects.count(), Prediction.objects.count(), AccessLogEntry.objects.count()) == (0, 0, 0)


# ---------------------------------------------------------------------------
# The forecast API


def test_an_api_forecast_of_records_is_recorded_with_the_token(client, bearer, token, admin_user):
    records = random_valid_rows(6, seed=9)

    response = json_post(client, "/api/v1/forecasts", {"records": records, "seed": 2}, **bearer)

    assert response.status_code == HTTPStatus.OK
    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.FORECAST_FILE, "/api/v1/forecasts")
    assert (entry.token_name, entry.token_prefix) == ("claims intake", token[1][:8])
    assert (entry.filters, entry.row_count) == ({"records": 6, "seed": 2, "model": None}, 6)


def test_an_api_forecast_of_stored_predictions_is_recorded_with_its_filter(client, bearer):
    rows = random_valid_rows(30, seed=8)
    services.prediction_create_many(rows=rows, source="api")
    smokers = sum(row["smoker"] == "yes" for row in rows)

    response = json_post(client, "/api/v1/forecasts", {"filter": {"smoker": "yes", "source": "api"}}, **bearer)

    assert response.status_code == HTTPStatus.OK
    entry = only_entry()
    assert entry.action == Action.FORECAST_STORED
    assert entry.filters == {"filter": {"smoker": "yes", "source": "api"}, "seed": 0, "model": None}
    assert entry.row_count == smokers == response.json()["patients"]


@pytest.mark.parametrize(
    "payload, status",
    [({"records": [{**SAMPLE_PATIENT, "age": 12}]}, HTTPStatus.BAD_REQUEST), ({"filter": {"region": "northeast"}}, HTTPStatus.NOT_FOUND)],
)
def test_a_refused_api_forecast_is_not_recorded(client, bearer, payload, status):
    assert json_post(client, "/api/v1/forecasts", payload, **bearer).status_code == status
    assert not AccessLogEntry.objects.exists()


# ---------------------------------------------------------------------------
# The history API


def test_a_history_page_is_recorded_with_its_filters_and_the_rows_it_holds(client, bearer, admin_user, token):
    PredictionFactory.create_batch(5)

    response = client.get("/api/v1/predictions", {"limit": 2, "offset": 1, "since": "2020-01-01T00:00:00Z"}, **bearer)

    assert response.status_code == HTTPStatus.OK
    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.HISTORY_LIST, "/api/v1/predictions")
    assert entry.token_prefix == token[1][:8]
    assert entry.filters == {"since": "2020-01-01T00:00:00Z", "until": None, "limit": 2, "offset": 1}
    assert entry.row_count == len(response.json()["predictions"]) == 2


def test_the_last_history_page_counts_what_it_returned(client, bearer):
    PredictionFactory.create_batch(3)
    response = client.get("/api/v1/predictions", {"limit": 2, "offset": 2}, **bearer)
    assert len(response.json()["predictions"]) == 1
    assert only_entry().row_count == 1


def test_a_history_read_with_a_session_is_recorded_without_a_token(admin_client, admin_user):
    prediction = PredictionFactory()

    response = admin_client.get(f"/api/v1/predictions/{prediction.pk}", {"explain": "true"}, **FORWARDED)

    assert response.status_code == HTTPStatus.OK
    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.HISTORY_DETAIL, f"/api/v1/predictions/{prediction.pk}")
    assert (entry.token_name, entry.token_prefix) == ("", "")
    assert (entry.filters, entry.row_count) == ({"prediction": prediction.pk, "explain": True}, 1)


def test_refused_history_reads_are_not_recorded(client, bearer, django_user_model):
    prediction = PredictionFactory()
    assert client.get("/api/v1/predictions").status_code == HTTPStatus.UNAUTHORIZED
    assert client.get(f"/api/v1/predictions/{prediction.pk + 1}", **bearer).status_code == HTTPStatus.NOT_FOUND
    assert client.get("/api/v1/predictions", {"limit": 0}, **bearer).status_code == HTTPStatus.BAD_REQUEST
    member = django_user_model.objects.create_user("member", password="x")
    member_bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens.api_token_create(user=member, name='m')[1]}"}
    assert client.get("/api/v1/predictions", **member_bearer).status_code == HTTPStatus.FORBIDDEN
    assert not AccessLogEntry.objects.exists()


def test_a_history_read_that_cannot_be_recorded_answers_a_json_503_without_data(client, bearer, locked_access_log):
    prediction = PredictionFactory()

    for url in ("/api/v1/predictions", f"/api/v1/predictions/{prediction.pk}"):
        response = client.get(url, **bearer)
        assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
        body = response.json()
        assert set(body) == {"detail", "errors"} and "could not be recorded" in body["detail"]


# ---------------------------------------------------------------------------
# The monitoring page and export_training_data


def test_the_monitoring_page_is_recorded_with_its_period_and_the_predictions_it_covers(admin_client, admin_user):
    PredictionFactory.create_batch(4)
    old = PredictionFactory()
    Prediction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))
    since = timezone.now().date() - timedelta(days=7)

    response = admin_client.get(MONITORING, {"since": f"{since:%Y-%m-%d}"}, **FORWARDED)

    assert response.status_code == HTTPStatus.OK
    entry = only_entry()
    assert_who_and_where(entry, admin_user, Action.MONITORING, MONITORING)
    assert entry.filters == {"since": f"{since:%Y-%m-%d}", "until": None, "model": None}
    assert entry.row_count == 4


def test_export_training_data_is_recorded_as_the_command_with_no_user(tmp_path):
    for amount in ("1000.00", "2500.50"):
        PredictionFactory(actual_charges=Decimal(amount))
    PredictionFactory()
    output = tmp_path / "billed.csv"

    call_command("export_training_data", str(output), verbosity=0)

    entry = only_entry()
    assert (entry.command, entry.user, entry.username, entry.ip, entry.path) == ("export_training_data", None, "", "", "")
    assert entry.action == Action.TRAINING_EXPORT
    assert entry.filters == {"output": str(output)}
    assert entry.row_count == len(output.read_text().splitlines()) - 1 == 2


def test_export_training_data_writes_nothing_when_it_cannot_be_recorded(tmp_path, locked_access_log):
    PredictionFactory(actual_charges=Decimal("1000.00"))
    output = tmp_path / "billed.csv"

    with pytest.raises(CommandError, match="could not be recorded.*Nothing was written"):
        call_command("export_training_data", str(output), verbosity=0)

    assert not output.exists()


def test_the_monitoring_page_answers_503_when_it_cannot_be_recorded(admin_client, locked_access_log):
    PredictionFactory()
    response = admin_client.get(MONITORING)
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    html = response.render().content.decode()
    assert "could not be recorded" in html and 'id="monitoring-counts"' not in html


# ---------------------------------------------------------------------------
# Who survives the user


def test_an_entry_keeps_the_username_when_the_user_is_deleted(admin_client, django_user_model):
    viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_prediction"))
    admin_client.force_login(viewer)
    admin_client.get(reverse("admin:predictor_prediction_change", args=[PredictionFactory().pk]))

    viewer.delete()

    entry = only_entry()
    assert (entry.user, entry.username) == (None, "viewer")


def test_a_record_is_made_by_a_request_or_a_command_never_both_or_neither(rf):
    with pytest.raises(ValueError):
        access_log.access_log_record(action=Action.MONITORING, row_count=0)
    with pytest.raises(ValueError):
        access_log.access_log_record(action=Action.MONITORING, row_count=0, request=rf.get("/"), command="x")


# ---------------------------------------------------------------------------
# The admin of the log: superusers read it, nobody changes it


@pytest.fixture
def entry(admin_user) -> AccessLogEntry:
    return AccessLogEntry.objects.create(
        user=admin_user, username="admin", ip="198.51.100.7", action=Action.HISTORY_LIST,
        path="/api/v1/predictions", filters={"limit": 2}, row_count=2,
    )


def test_superusers_see_the_log_with_filters_and_search(admin_client, entry):
    AccessLogEntry.objects.create(command="export_training_data", action=Action.TRAINING_EXPORT, row_count=9)
    url = reverse("admin:predictor_accesslogentry_changelist")

    html = admin_client.get(url).content.decode()
    assert "198.51.100.7" in html and "command export_training_data" in html
    for title in ("By action", "By user", "By created at"):
        assert title in html
    assert admin_client.get(url, {"action__exact": Action.TRAINING_EXPORT}).context["cl"].result_count == 1
    assert admin_client.get(url, {"username": "admin"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "198.51.100"}).context["cl"].result_count == 1
    assert admin_client.get(url, {"q": "admin"}).context["cl"].result_count == 1
    assert "{&quot;limit&quot;: 2}" in html and "/api/v1/predictions" in html  # every field is in the list


def test_nobody_adds_changes_or_deletes_an_entry_not_even_a_superuser(admin_client, entry):
    change = reverse("admin:predictor_accesslogentry_change", args=[entry.pk])
    assert admin_client.get(change).status_code == HTTPStatus.FORBIDDEN
    assert admin_client.get(reverse("admin:predictor_accesslogentry_add")).status_code == HTTPStatus.FORBIDDEN
    assert admin_client.post(reverse("admin:predictor_accesslogentry_add"), {"username": "x"}).status_code == HTTPStatus.FORBIDDEN
    assert admin_client.post(change, {"username": "someone-else", "row_count": 0}).status_code == HTTPStatus.FORBIDDEN
    delete = reverse("admin:predictor_accesslogentry_delete", args=[entry.pk])
    assert admin_client.get(delete).status_code == HTTPStatus.FORBIDDEN
    assert admin_client.post(delete, {"post": "yes"}).status_code == HTTPStatus.FORBIDDEN
    changelist = reverse("admin:predictor_accesslogentry_changelist")
    admin_client.post(changelist, {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    entry.refresh_from_db()
    assert (entry.username, entry.row_count) == ("admin", 2)
    assert AccessLogEntry.objects.count() == 1


def test_the_logs_export_holds_the_filtered_entries_and_is_itself_recorded(admin_client, admin_user, entry):
    AccessLogEntry.objects.create(username="admin", action=Action.HISTORY_LIST, row_count=5)
    AccessLogEntry.objects.create(command="export_training_data", action=Action.TRAINING_EXPORT, row_count=9)
    url = reverse("admin:predictor_accesslogentry_export")

    response = admin_client.get(url, {"action__exact": Action.HISTORY_LIST}, **FORWARDED)
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))

    assert sorted((int(row["row_count"]), row["ip"], row["username"]) for row in rows) == [
        (2, "198.51.100.7", "admin"), (5, "", "admin")
    ]
    assert {int(row["row_count"]): json.loads(row["filters"]) for row in rows} == {2: {"limit": 2}, 5: {}}  # JSON, not a repr
    export = AccessLogEntry.objects.get(action=Action.ACCESS_LOG_EXPORT)
    assert_who_and_where(export, admin_user, Action.ACCESS_LOG_EXPORT, url)
    assert (export.filters, export.row_count) == ({"action__exact": Action.HISTORY_LIST}, 2)
    assert 'id="export-csv"' in admin_client.get(reverse("admin:predictor_accesslogentry_changelist")).content.decode()


def test_the_log_answers_head_as_get(admin_client, entry):
    assert admin_client.head(reverse("admin:predictor_accesslogentry_changelist")).status_code == HTTPStatus.OK
    assert admin_client.head(reverse("admin:predictor_accesslogentry_export")).status_code == HTTPStatus.OK


def test_staff_who_are_not_superusers_cannot_see_the_log_whatever_their_permissions(client, django_user_model, entry):
    staff = django_user_model.objects.create_user("auditor", password="x", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(content_type__app_label="predictor"))
    client.force_login(staff)

    assert client.get(reverse("admin:predictor_accesslogentry_changelist")).status_code == HTTPStatus.FORBIDDEN
    assert client.get(reverse("admin:predictor_accesslogentry_export")).status_code == HTTPStatus.FORBIDDEN
    assert client.get(reverse("admin:predictor_accesslogentry_change", args=[entry.pk])).status_code == HTTPStatus.FORBIDDEN
    assert "accesslogentry" not in client.get(reverse("admin:index")).content.decode()


# ---------------------------------------------------------------------------
# Retention: the setting and the cutoff (the command: tests/commands/test_purge_access_log.py)


def test_the_cutoff_is_exactly_the_days_before_now():
    now = timezone.now()
    assert access_log.access_log_cutoff(older_than_days=2190, now=now) == now - timedelta(days=2190)
    assert (now - access_log.access_log_cutoff(older_than_days=1, now=now)).total_seconds() == 86400


@pytest.mark.parametrize("value", ["0", "-1", "abc", "2.5", ""])
def test_a_bad_retention_setting_stops_the_start_naming_it(tmp_path, value):
    from tests.test_settings import PRODUCTION, PROJECT_DIR, start

    result = start(tmp_path, str(PROJECT_DIR / "manage.py"), "check", PREDICTOR_ACCESS_LOG_RETENTION_DAYS=value, **PRODUCTION)

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert "PREDICTOR_ACCESS_LOG_RETENTION_DAYS must be a positive whole number" in message


def test_a_good_retention_setting_is_read(tmp_path):
    from tests.test_settings import PRODUCTION, start

    probe = "import django; django.setup(); from django.conf import settings; print(settings.PREDICTOR_ACCESS_LOG_RETENTION_DAYS)"
    result = start(tmp_path, "-c", probe, PREDICTOR_ACCESS_LOG_RETENTION_DAYS="3650", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["3650"]


@pytest.mark.parametrize(
    "log_days, prediction_days, stops",
    [("2190", "2191", True), ("30", "365", True), ("365", "365", False), ("2190", "", False)],
)
def test_the_access_log_must_be_kept_at_least_as_long_as_the_predictions(tmp_path, log_days, prediction_days, stops):
    from tests.test_settings import PRODUCTION, PROJECT_DIR, start

    result = start(
        tmp_path, str(PROJECT_DIR / "manage.py"), "check",
        PREDICTOR_ACCESS_LOG_RETENTION_DAYS=log_days, PREDICTOR_RETENTION_DAYS=prediction_days, **PRODUCTION,
    )

    assert (result.returncode != 0) is stops, result.stderr
    if stops:
        assert f"PREDICTOR_ACCESS_LOG_RETENTION_DAYS ({log_days}) is shorter than PREDICTOR_RETENTION_DAYS ({prediction_days})" in result.stderr
