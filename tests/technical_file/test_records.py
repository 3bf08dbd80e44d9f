"""records and oversight: each item the record-keeping section names is really stored (a column of its table,
filled in rows the product wrote through its own services), its retention follows the settings, and the
oversight facilities' records are among those listed."""

from datetime import timedelta
from http import HTTPStatus

import pytest
from django.apps import apps
from django.db import connection
from django.contrib.admin.models import LogEntry
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from predictor import retention, serving, services
from predictor.actuals.services import actual_charges_record
from predictor.models import (
    AccessLogEntry, ActualChargeChange, ApiToken, Batch, ChallengerScore, ChargeOverride, ModelChange, ModelVersion, Prediction,
    RateLimit, ServingChange,
)
from predictor.oversight import services as oversight
from predictor.security import access_log
from predictor.security.tokens import api_token_create
from predictor.technical_file.sources import api_operations, commands
from predictor.technical_file.oversight import logged_records, oversight_facilities, override_facility, pause_facility


def columns_of(table: str) -> set[str]:
    with connection.cursor() as cursor:
        return {column.name for column in connection.introspection.get_table_description(cursor, table)}


def filled(value) -> bool:
    return value not in (None, "", {}, [])


@pytest.fixture
def records_written(db, admin_user, admin_client, valid_inputs):
    """Rows written by the product's own services, one way or another for each field the file names."""
    web = services.prediction_create(**valid_inputs, source=Prediction.Source.WEB)
    columns = services.prediction_columns(services.prediction_rows_clean([valid_inputs]))
    batch, _ = services.batch_create(columns=columns, file_name="patients.csv", created_by=admin_user)
    actual_charges_record(prediction_id=web.pk, actual_charges="16884.92", recorded_by=admin_user, channel="admin")
    change_url = reverse("admin:predictor_prediction_change", args=[web.pk])
    data = {  # the inlines' management forms (the overrides and the actual charges' audit trail)
        f"{inline.formset.management_form.prefix}-{name}": inline.formset.management_form[name].value()
        for inline in admin_client.get(change_url).context["inline_admin_formsets"]
        for name in inline.formset.management_form.fields
    }
    assert admin_client.post(change_url, {**data, "actual_charges": "16900.00"}).status_code == HTTPStatus.FOUND
    serving.model_version_challenger_set(name="huber-blend-v1", by=serving.ChangeBy(
        user=admin_user, reason="compare", evidence={"mae": {"champion": 1, "challenger": 2}}))
    serving.model_version_challenger_set(name="tutorial-lr-v1")  # from huber-blend-v1, by a command
    ChallengerScore.objects.create(prediction=web, model_version=ModelVersion.objects.get(name="huber-blend-v1"),
                                   charges="16000.00", charges_low="15000.00", charges_high="17000.00")
    assert oversight.serving_pause(reason="drift alert", user=admin_user, channel=ServingChange.Channel.ADMIN).changed
    assert oversight.serving_resume(channel=ServingChange.Channel.COMMAND).changed  # by a command: no user, no reason
    old = services.prediction_create(**valid_inputs, source=Prediction.Source.API)
    Prediction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=400))
    oversight.charge_override_record(prediction_id=old.pk, reviewed_charges="15000.00", reason="reviewed by the underwriter",
                                     user=admin_user, channel=ChargeOverride.Channel.API)  # then anonymised below
    retention.predictions_anonymise(cutoff=timezone.now() - timedelta(days=365))
    request = RequestFactory().get("/api/v1/predictions", {"smoker": "yes"}, REMOTE_ADDR="203.0.113.9")
    request.user = admin_user
    request.api_token = api_token_create(user=admin_user, name="reporting")[0]
    access_log.access_log_record(request=request, action=access_log.Action.HISTORY_LIST, row_count=2, filters={"smoker": "yes"})
    access_log.access_log_record(command="technical_file", action=access_log.Action.TECHNICAL_FILE, row_count=1)
    return batch


def test_each_field_named_is_a_column_of_its_table_and_filled_in_a_stored_row(records_written):
    for record in logged_records():
        table_columns = columns_of(record.table)
        rows = list(record.model.objects.all())
        assert rows, f"no {record.model.__name__} was stored"
        for field in record.fields:
            model_field = record.model._meta.get_field(field.name)
            assert model_field.column in table_columns, (record.table, field.name)
            values = [getattr(row, model_field.attname) for row in rows]
            if field.always:
                assert all(filled(value) or value is False for value in values), (record.table, field.name)
            else:  # filled where it applies: some row the product wrote has it
                assert any(filled(value) for value in values), (record.table, field.name)


def test_every_stored_kind_of_record_is_listed():
    listed = {record.model for record in logged_records()}
    assert listed >= {Prediction, ModelVersion, ModelChange, ActualChargeChange, Batch, ChallengerScore, AccessLogEntry, LogEntry,
                      ChargeOverride, ServingChange}
    # Every model of the app is listed, but the API's tokens and the rate limits' counters (access control, not records).
    assert set(apps.get_app_config("predictor").get_models()) - listed == {ApiToken, RateLimit}


def test_an_override_stays_through_anonymisation_and_goes_with_its_prediction_as_its_retention_says(records_written):
    [override] = ChargeOverride.objects.all()
    assert override.prediction.anonymised_at is not None  # the fixture's anonymisation left it
    retention_stated = override_facility().records[0].retention
    assert "anonymisation leaves it" in retention_stated and "deleted only with its prediction" in retention_stated
    retention.predictions_delete(cutoff=timezone.now() - timedelta(days=365))
    assert not ChargeOverride.objects.exists() and not Prediction.objects.filter(pk=override.prediction_id).exists()


def test_the_facilities_name_the_real_route_commands_permissions_and_settings(settings):
    settings.PREDICTOR_PAUSE_TTL = 4
    override, pause = override_facility(), pause_facility()
    assert ("POST", "/api/v1/predictions/{prediction_id}/override") in {op[:2] for op in api_operations()}
    assert "POST /api/v1/predictions/{id}/override" in " ".join(override.how)
    assert {"serving_pause", "serving_resume", "activate_model"} <= {name for name, _ in commands()}
    assert "serving_pause" in " ".join(pause.how) and "serving_resume" in " ".join(pause.how)
    figures = {figure.ref: figure.value for figure in (*override.figures, *pause.figures)}
    assert figures[("constant", "predictor.security.permissions", "OVERRIDE_PERMISSION", "")] == "predictor.record_override"
    assert figures[("constant", "predictor.security.permissions", "SERVING_PAUSE_PERMISSION", "")] == "predictor.change_serving"
    assert figures[("setting", "PREDICTOR_PAUSE_TTL")] == 4


def test_the_oversight_facilities_name_records_that_record_keeping_lists():
    listed = {record.model for record in logged_records()}
    assert {record.model for record in override_facility().records} <= listed
    assert {record.model for record in pause_facility().records} <= listed
    points = [facility.point for facility in oversight_facilities()]
    assert points == ["Art. 14(4)(a), (c)", "Art. 14(4)(b)", "Art. 14(4)(d)", "Art. 14(4)(e)"]


def test_the_retention_stated_is_the_settings_in_force(settings):
    settings.PREDICTOR_RETENTION_DAYS = None
    record = logged_records()[0]
    assert record.model is Prediction and record.retention.startswith("kept for ever")
    settings.PREDICTOR_RETENTION_DAYS, settings.PREDICTOR_RETENTION_ACTION = 730, "delete"
    settings.PREDICTOR_ACCESS_LOG_RETENTION_DAYS = 3650
    records = {record.model: record for record in logged_records()}
    assert records[Prediction].retention.startswith("after 730 days deleted")
    assert [figure.value for figure in records[Prediction].retention_figures] == [730, "delete"]
    assert records[AccessLogEntry].retention.startswith("3,650 days")
    assert records[AccessLogEntry].retention_figures[0].value == 3650
