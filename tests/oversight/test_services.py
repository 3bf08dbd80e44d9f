"""Overrides of an estimate and pausing the service: what is recorded, what is refused, and that the records
cannot be changed afterwards."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import InternalError, connection, transaction
from django.utils import timezone

from predictor import retention, serving, services
from predictor.models import ChargeOverride, Prediction, ServingChange
from predictor.oversight import services as oversight

API = ChargeOverride.Channel.API


def override(stored, user, charges="15000", reason="Reviewed with the claims history"):
    return oversight.charge_override_record(
        prediction_id=stored.pk, reviewed_charges=charges, reason=reason, user=user, channel=API
    )


# ---------------------------------------------------------------------------
# Overrides


def test_an_override_keeps_the_estimate_and_records_who_when_the_figure_before_and_why(stored, reviewer):
    before = timezone.now()

    recorded = override(stored, reviewer, charges="15000.456", reason="  Reviewed with the claims history ")

    row = ChargeOverride.objects.get()
    assert (row.prediction_id, row.previous_charges, row.reviewed_charges) == (stored.pk, stored.predicted_charges, Decimal("15000.46"))
    assert (row.username, row.created_by, row.channel, row.reason) == ("reviewer", reviewer, "api", "Reviewed with the claims history")
    assert before <= row.created_at <= timezone.now() and row == recorded
    assert Prediction.objects.get(pk=stored.pk).predicted_charges == stored.predicted_charges


def test_a_second_override_keeps_the_first_and_records_it_as_the_figure_before(stored, reviewer):
    first = override(stored, reviewer, charges="15000")
    second = override(stored, reviewer, charges="14000", reason="Second look")

    assert second.previous_charges == first.reviewed_charges == Decimal("15000.00")
    assert list(ChargeOverride.objects.order_by("id").values_list("reviewed_charges", flat=True)) == [Decimal("15000"), Decimal("14000")]


@pytest.mark.parametrize(
    ("charges", "reason", "field", "words"),
    [
        ("15000", "", "reason", "Give the reason"),
        ("15000", "   ", "reason", "Give the reason"),
        ("15000", None, "reason", "Give the reason"),
        ("15000", "x" * 2001, "reason", "under 2,000 characters"),
        ("-1", "why", "reviewed_charges", "cannot be negative"),
        ("12,000", "why", "reviewed_charges", "as a number of dollars"),
        ("$12000", "why", "reviewed_charges", "as a number of dollars"),
        ("NaN", "why", "reviewed_charges", "as a number of dollars"),
        ("1e400", "why", "reviewed_charges", "more than $1,000,000"),
        ("9" * 30, "why", "reviewed_charges", "as a number of dollars"),
        (True, "why", "reviewed_charges", "as a number of dollars"),
        ("", "why", "reviewed_charges", "Enter the reviewed charge"),
        ("1000000.01", "why", "reviewed_charges", "more than $1,000,000"),
    ],
)
def test_bad_input_is_refused_by_field_and_nothing_is_stored(stored, reviewer, charges, reason, field, words):
    with pytest.raises(ValidationError) as refused:
        override(stored, reviewer, charges=charges, reason=reason)

    assert list(refused.value.message_dict) == [field]
    assert words in refused.value.message_dict[field][0]
    assert not ChargeOverride.objects.exists()


def test_both_problems_are_named_at_once(stored, reviewer):
    with pytest.raises(ValidationError) as refused:
        override(stored, reviewer, charges="-5", reason="")
    assert set(refused.value.message_dict) == {"reviewed_charges", "reason"}


def test_the_figure_already_in_force_is_refused_as_changing_nothing(stored, reviewer):
    with pytest.raises(ValidationError, match="equals the figure in force"):
        override(stored, reviewer, charges=str(stored.predicted_charges))
    assert not ChargeOverride.objects.exists()


def test_a_prediction_that_does_not_exist_is_refused_and_nothing_is_stored(stored, reviewer):
    with pytest.raises(oversight.PredictionNotFound, match=f"no prediction {stored.pk + 1}"):
        oversight.charge_override_record(prediction_id=stored.pk + 1, reviewed_charges="1", reason="why", user=reviewer, channel=API)
    assert not ChargeOverride.objects.exists()


def test_staff_without_the_permission_cannot_override(stored, reader):
    with pytest.raises(PermissionDenied, match="Can override an estimate"):
        override(stored, reader)
    assert not ChargeOverride.objects.exists()


def _refused(sql: str, params: list) -> str:
    with pytest.raises(InternalError) as refused, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(refused.value)


def test_the_database_refuses_to_change_or_remove_an_override(stored, reviewer):
    row = override(stored, reviewer)

    assert "append-only: UPDATE refused" in _refused("UPDATE predictor_charge_override SET reviewed_charges = 1 WHERE id = %s", [row.pk])
    assert "append-only: DELETE refused" in _refused("DELETE FROM predictor_charge_override WHERE id = %s", [row.pk])
    assert ChargeOverride.objects.get().reviewed_charges == Decimal("15000")


def test_the_retention_purge_deletes_an_old_prediction_with_its_overrides(stored, reviewer):
    override(stored, reviewer)
    Prediction.objects.filter(pk=stored.pk).update(created_at=timezone.now() - timedelta(days=400))

    outcome = retention.predictions_delete(cutoff=timezone.now() - timedelta(days=365))

    assert outcome.predictions == 1 and outcome.other_deleted == {ChargeOverride._meta.label: 1}
    assert not Prediction.objects.exists() and not ChargeOverride.objects.exists()


# ---------------------------------------------------------------------------
# Pause and resume


def test_a_pause_is_recorded_and_stops_every_way_of_predicting_until_resumed(operator, valid_inputs):
    toggle = oversight.serving_pause(reason="Investigating drift", user=operator, channel=ServingChange.Channel.ADMIN)

    assert toggle.changed and (toggle.record.kind, toggle.record.username, toggle.record.reason) == ("pause", "operator", "Investigating drift")
    for predict in (
        lambda: services.prediction_create(**valid_inputs),
        lambda: services.prediction_create_many(rows=[valid_inputs, valid_inputs], source="api"),
        lambda: services.batch_create(columns=services.prediction_columns([valid_inputs]), file_name="x.csv"),
    ):
        with pytest.raises(services.PredictionUnavailable, match="paused") as refused:
            predict()
        assert refused.value.kind == "paused"
    assert not Prediction.objects.exists()

    resumed = oversight.serving_resume(reason="Drift explained", user=operator, channel=ServingChange.Channel.ADMIN)
    assert resumed.changed and services.prediction_create(**valid_inputs).pk
    assert list(ServingChange.objects.order_by("id").values_list("kind", "reason")) == [
        ("pause", "Investigating drift"), ("resume", "Drift explained"),
    ]


def test_pausing_twice_or_resuming_a_running_service_changes_and_records_nothing(db):
    assert oversight.serving_resume(channel="command") == oversight.ServingToggle(changed=False, record=None)
    first = oversight.serving_pause(reason="one", channel="command")

    again = oversight.serving_pause(reason="two", channel="command")

    assert (again.changed, again.record) == (False, first.record)
    assert ServingChange.objects.count() == 1


@pytest.mark.parametrize("reason", ["", "   ", None, "x" * 2001])
def test_a_pause_needs_a_reason(db, reason):
    with pytest.raises(ValidationError) as refused:
        oversight.serving_pause(reason=reason, channel="command")
    assert list(refused.value.message_dict) == ["reason"]
    assert not ServingChange.objects.exists() and not serving.serving_pause_state().paused


def test_the_database_refuses_to_change_or_remove_a_pause(paused):
    assert "append-only: UPDATE refused" in _refused("UPDATE predictor_serving_change SET kind = 'resume' WHERE id = %s", [paused.pk])
    assert "append-only: DELETE refused" in _refused("DELETE FROM predictor_serving_change WHERE id = %s", [paused.pk])
    assert ServingChange.objects.get().kind == "pause"
