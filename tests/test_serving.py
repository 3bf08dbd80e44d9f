"""serving: which model serves; the read-only lookup of the active version, the explicit activation, the warm-up."""

import time
from decimal import Decimal
from types import SimpleNamespace

import pytest

from predictor import serving, services
from predictor.ml import artifacts, predict
from predictor.models import ModelChange, ModelVersion
from tests import golden
from tests.factories import ModelVersionFactory


def test_the_server_refuses_to_start_with_a_tampered_artifact(artifact_copy, settings, db):
    """gunicorn preloads wsgi.py, which warms up; loading it with a bad artifact must fail, not serve."""
    import importlib

    import insurance_site.wsgi

    with open(artifact_copy, "ab") as handle:
        handle.write(b"tampered")
    settings.PREDICTOR_PIPELINE_PATH = artifact_copy
    with pytest.raises(artifacts.ModelArtifactError):
        importlib.reload(insurance_site.wsgi)


# ---------------------------------------------------------------------------
# model_serving: the read-only lookup


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_no_active_version_is_an_error_saying_how_to_activate_one(django_assert_max_num_queries):
    with django_assert_max_num_queries(1) as captured:
        with pytest.raises(serving.NoActiveModelError, match="activate_model"):
            serving.model_serving()
    assert all(query["sql"].startswith("SELECT") for query in captured.captured_queries)
    assert ModelVersion.objects.count() == 0


@pytest.mark.django_db
def test_the_active_version_is_read_once_then_kept_for_the_ttl(loaded_model, django_assert_num_queries, settings):
    settings.PREDICTOR_ACTIVE_MODEL_TTL = 60
    with django_assert_num_queries(1) as captured:
        model, version = serving.model_serving()
    assert captured.captured_queries[0]["sql"].startswith("SELECT")
    assert (model, version.name) == (loaded_model, loaded_model.name)
    with django_assert_num_queries(0):
        assert serving.model_serving()[1] == version


@pytest.mark.django_db
def test_predictions_read_the_active_version_and_register_nothing(valid_inputs, loaded_model):
    services.prediction_create(**valid_inputs)
    serving.model_serving_reset()
    services.prediction_create(**valid_inputs)
    [version] = ModelVersion.objects.all()
    assert version.active and version.name == loaded_model.name
    assert version.metrics == {"cv": loaded_model.card["cv"], "holdout": loaded_model.card["holdout"]}


# ---------------------------------------------------------------------------
# Activation: model_version_activate and the start-up step model_version_activate_if_none


@pytest.mark.django_db
def test_activating_another_model_switches_new_predictions_and_keeps_old_ones(valid_inputs, loaded_model):
    before = services.prediction_create(**valid_inputs)
    serving.model_version_activate(name="huber-blend-v1")
    after = services.prediction_create(**valid_inputs)
    before.refresh_from_db()
    assert before.model_version.name == loaded_model.name
    assert after.model_version.name == "huber-blend-v1"
    assert list(ModelVersion.objects.filter(active=True).values_list("name", flat=True)) == ["huber-blend-v1"]
    [(charge, low, high)] = predict.predict_charges_with_interval([valid_inputs], model=artifacts.get_model("huber-blend-v1"))
    assert (after.predicted_charges, after.predicted_charges_low, after.predicted_charges_high) == tuple(
        Decimal(str(round(value, 2))) for value in (charge, low, high)
    )
    expected = golden.answer_for(valid_inputs, "huber-blend-v1")
    assert abs(after.predicted_charges - expected.charges) <= Decimal(str(golden.tolerance("huber-blend-v1")))


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_a_version_without_an_interval_stores_none(valid_inputs):
    # tutorial-lr-v1 (no interval) is below the floor and can no longer be activated; a database where it
    # was made active before the floor existed still serves it until someone activates another.
    version = serving.model_version_register(artifacts.get_model("tutorial-lr-v1"))
    ModelVersion.objects.filter(pk=version.pk).update(active=True)
    prediction = services.prediction_create(**valid_inputs)
    assert prediction.model_version.name == "tutorial-lr-v1"
    assert prediction.predicted_charges_low is None and prediction.predicted_charges_high is None
    [tutorial_charge] = predict.predict_charges([valid_inputs], model=artifacts.get_model("tutorial-lr-v1"))
    assert prediction.predicted_charges == Decimal(str(round(tutorial_charge, 2)))
    expected = golden.answer_for(valid_inputs, "tutorial-lr-v1").charges
    assert abs(prediction.predicted_charges - expected) <= Decimal(str(golden.tolerance("tutorial-lr-v1")))


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_the_start_up_step_activates_the_default_model_when_none_is_active(loaded_model):
    version, activated = serving.model_version_activate_if_none()
    assert activated and version.active and version.name == loaded_model.name
    assert ModelVersion.objects.get(active=True) == version
    assert version.sha256 == loaded_model.sha256


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_the_start_up_step_leaves_an_active_version_alone(loaded_model):
    serving.model_version_activate(name="huber-blend-v1")
    version, activated = serving.model_version_activate_if_none()
    assert not activated and version.name == "huber-blend-v1"
    assert list(ModelVersion.objects.filter(active=True).values_list("name", flat=True)) == ["huber-blend-v1"]


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_a_registered_name_with_another_hash_cannot_be_activated(loaded_model):
    ModelVersionFactory(name=loaded_model.name, sha256="0" * 64)
    with pytest.raises(artifacts.ModelArtifactError, match="Give a retrained model a new name"):
        serving.model_version_activate()
    assert not ModelVersion.objects.filter(active=True).exists()


# ---------------------------------------------------------------------------
# The floor: a version that answers below $0 on the grid cannot become the champion, through any path


def test_the_floor_grid_is_the_forms_limits_and_every_choice():
    from predictor.forms import LIMITS
    from predictor.models import Prediction

    axes = serving.floor_axes()
    assert [len(values) for values in axes.values()] == [10, 2, 10, 11, 2, 4]
    for name, (low, high) in LIMITS.items():
        assert (min(axes[name]), max(axes[name])) == (low, high)
    assert axes["age"] == tuple(sorted(set(axes["age"]))) and all(isinstance(age, int) for age in axes["age"])
    assert set(axes["region"]) == set(Prediction.Region.values)


@pytest.mark.django_db
def test_a_version_below_the_floor_is_refused_saying_where_and_nothing_changes(loaded_model):
    with pytest.raises(serving.BelowFloorError) as refused:
        serving.model_version_activate(name="tutorial-lr-v1", by=serving.ChangeBy(reason="try it"))
    assert "tutorial-lr-v1 answers -$15,5" in str(refused.value)
    assert "age 18, sex male, bmi 70, children 0, smoker no, region southeast" in str(refused.value)
    assert ModelVersion.objects.get(active=True).name == loaded_model.name
    assert not ModelVersion.objects.filter(name="tutorial-lr-v1").exists()
    assert not ModelChange.objects.exclude(channel=ModelChange.Channel.STARTUP).exists()


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_the_start_up_step_refuses_a_default_artifact_below_the_floor(settings, loaded_model):
    settings.PREDICTOR_PIPELINE_PATH = artifacts.artifact_path_for("tutorial-lr-v1")
    with pytest.raises(serving.BelowFloorError, match="cannot become the champion"):
        serving.model_version_activate_if_none()
    assert not ModelVersion.objects.filter(active=True).exists() and not ModelChange.objects.exists()


@pytest.mark.django_db
def test_a_version_below_the_floor_may_still_be_the_challenger():
    version = serving.model_version_challenger_set(name="tutorial-lr-v1")
    assert version.challenger and not version.active
    assert not serving.model_version_floor("tutorial-lr-v1").holds
    assert serving.model_version_floor("huber-blend-v1").lowest > 1_400


# ---------------------------------------------------------------------------
# Every change recorded: ModelChange, append-only


def changes() -> list[tuple]:
    return [
        (change.kind, change.from_version and change.from_version.name, change.to_version and change.to_version.name,
         change.channel, change.username, change.reason)
        for change in ModelChange.objects.order_by("id").select_related("from_version", "to_version")
    ]


@pytest.fixture
def staff_user(db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user("ada", password="x", is_staff=True)


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_each_activation_is_recorded_with_who_why_and_from_which_version(loaded_model, staff_user):
    serving.model_version_activate_if_none()
    by = serving.ChangeBy(channel=ModelChange.Channel.ADMIN, user=staff_user, reason="roll back to v1")
    serving.model_version_activate(name="huber-blend-v1", by=by)
    serving.model_version_activate(name="huber-blend-v1", by=by)  # already serving: nothing recorded
    assert changes() == [
        ("champion", None, loaded_model.name, "startup", "", ""),
        ("champion", loaded_model.name, "huber-blend-v1", "admin", "ada", "roll back to v1"),
    ]
    assert ModelChange.objects.order_by("id").last().changed_by == staff_user


@pytest.mark.django_db
def test_setting_replacing_and_clearing_the_challenger_are_recorded(staff_user):
    start = ModelChange.objects.count()
    by = serving.ChangeBy(user=staff_user, reason="compare")
    serving.model_version_challenger_set(name="huber-blend-v1", by=by)
    assert serving.model_version_challenger_set(name="huber-blend-v1", by=by).challenger  # again: nothing recorded
    serving.model_version_challenger_set(name="tutorial-lr-v1")
    assert list(ModelVersion.objects.filter(challenger=True).values_list("name", flat=True)) == ["tutorial-lr-v1"]
    cleared = serving.model_version_challenger_clear(by=serving.ChangeBy(reason="done"))
    assert cleared.name == "tutorial-lr-v1" and not ModelVersion.objects.filter(challenger=True).exists()
    assert serving.model_version_challenger_clear() is None  # nothing to clear: nothing recorded
    assert changes()[start:] == [
        ("challenger_set", None, "huber-blend-v1", "command", "ada", "compare"),
        ("challenger_set", "huber-blend-v1", "tutorial-lr-v1", "command", "", ""),
        ("challenger_clear", "tutorial-lr-v1", None, "command", "", "done"),
    ]


@pytest.mark.django_db
def test_the_champion_cannot_be_the_challenger(loaded_model):
    start = ModelChange.objects.count()
    with pytest.raises(artifacts.ModelArtifactError, match="is the active model"):
        serving.model_version_challenger_set(name=loaded_model.name)
    assert not ModelVersion.objects.filter(challenger=True).exists() and ModelChange.objects.count() == start


@pytest.mark.django_db
def test_an_unknown_or_tampered_challenger_is_refused(settings, tmp_path):
    import shutil

    start = ModelChange.objects.count()
    with pytest.raises(artifacts.ModelArtifactError, match="no-such-model.pkl is missing"):
        serving.model_version_challenger_set(name="no-such-model")
    source = artifacts.artifact_path_for("huber-blend-v1")
    shutil.copy(source, tmp_path / source.name)
    shutil.copy(artifacts.card_path_for(source), artifacts.card_path_for(tmp_path / source.name))
    with open(tmp_path / source.name, "ab") as handle:
        handle.write(b"tampered")
    settings.PREDICTOR_PIPELINE_PATH = tmp_path / "huber-blend-v2.pkl"
    with pytest.raises(artifacts.ModelArtifactError, match="the file was changed or replaced"):
        serving.model_version_challenger_set(name="huber-blend-v1")
    assert not ModelVersion.objects.filter(challenger=True).exists() and ModelChange.objects.count() == start


@pytest.mark.django_db
@pytest.mark.parametrize("channel", [ModelChange.Channel.COMMAND, ModelChange.Channel.ADMIN])
def test_the_challenger_becomes_the_champion_only_through_its_promotion(loaded_model, channel):
    serving.model_version_challenger_set(name="huber-blend-v1")
    start = ModelChange.objects.count()
    with pytest.raises(serving.ChallengerNotPromotedError, match="promote_challenger"):
        serving.model_version_activate(name="huber-blend-v1", by=serving.ChangeBy(channel=channel, reason="why not"))
    assert ModelVersion.objects.get(active=True).name == loaded_model.name
    assert ModelVersion.objects.get(challenger=True).name == "huber-blend-v1" and ModelChange.objects.count() == start
    promoted = serving.model_version_activate(
        name="huber-blend-v1", by=serving.ChangeBy(channel=ModelChange.Channel.PROMOTION, evidence={"verdict": "better"})
    )
    assert promoted.active and not promoted.challenger
    assert not ModelVersion.objects.filter(challenger=True).exists()
    last = ModelChange.objects.order_by("id").last()
    assert (last.channel, last.to_version.name, last.evidence) == ("promotion", "huber-blend-v1", {"verdict": "better"})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "sql",
    ["UPDATE predictor_model_change SET reason = 'rewritten'", "DELETE FROM predictor_model_change"],
)
def test_the_database_refuses_to_change_or_remove_a_recorded_change(sql):
    from django.db import DatabaseError, connection, transaction

    serving.model_version_challenger_set(name="huber-blend-v1", by=serving.ChangeBy(reason="kept"))
    before = changes()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic():
            change = ModelChange.objects.order_by("id").last()
            change.delete() if sql.startswith("DELETE") else ModelChange.objects.update(reason="rewritten")
    assert changes() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "update,constraint",
    [
        ({"active": True}, "predictor_one_active_model_version"),
        ({"challenger": True}, "predictor_one_challenger_model_version"),
    ],
)
def test_at_most_one_champion_and_one_challenger(update, constraint):
    from django.db import IntegrityError, transaction

    serving.model_version_challenger_set(name="huber-blend-v1")
    other = ModelVersionFactory()
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        ModelVersion.objects.filter(pk=other.pk).update(**update)


@pytest.mark.django_db
def test_the_champion_is_never_the_challenger_in_the_database(loaded_model):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError, match="predictor_champion_is_not_the_challenger"), transaction.atomic():
        ModelVersion.objects.filter(active=True).update(challenger=True)


@pytest.mark.django_db
def test_deleting_a_user_keeps_their_changes_with_the_username(staff_user):
    from django.db import DatabaseError, transaction

    serving.model_version_challenger_set(name="huber-blend-v1", by=serving.ChangeBy(user=staff_user, reason="kept"))
    change = ModelChange.objects.order_by("id").last()
    other = type(staff_user).objects.create_user("bob")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ModelChange.objects.filter(pk=change.pk).update(changed_by=other)  # only emptying the link is let through
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        ModelChange.objects.filter(pk=change.pk).update(changed_by=None, reason="rewritten")
    staff_user.delete()
    change.refresh_from_db()
    assert (change.changed_by, change.username, change.reason) == (None, "ada", "kept")


# The pause: one cached read per process, re-read at most every PREDICTOR_PAUSE_TTL seconds


@pytest.mark.django_db
def test_the_pause_is_read_once_then_kept_for_the_ttl_so_a_prediction_costs_one_insert(valid_inputs, settings, django_assert_num_queries):
    settings.PREDICTOR_PAUSE_TTL = 5
    with django_assert_num_queries(1):
        assert not serving.serving_pause_state().paused
    services.prediction_create(**valid_inputs)  # warms the active model's cache too
    with django_assert_num_queries(1) as captured:
        services.prediction_create(**valid_inputs)
    assert captured.captured_queries[0]["sql"].startswith("INSERT")


@pytest.mark.django_db
def test_a_pause_made_elsewhere_is_seen_here_once_the_ttl_has_passed(settings, monkeypatch):
    from predictor.models import ServingChange

    settings.PREDICTOR_PAUSE_TTL = 5
    clock = [1000.0]
    monkeypatch.setattr(serving, "time", SimpleNamespace(monotonic=lambda: clock[0]))  # serving's clock only
    assert not serving.serving_pause_state().paused
    ServingChange.objects.create(kind="pause", channel="command", reason="elsewhere")  # another task's pause: no reset here

    clock[0] += 4.9
    assert not serving.serving_pause_state().paused
    clock[0] += 0.2
    state = serving.serving_pause_state()
    assert (state.paused, state.reason) == (True, "elsewhere")


WATCHER = """
import sys, time
import django
django.setup()
from predictor import serving
serving.serving_pause_check()  # running: read and cached
print("ready", flush=True)
started = time.monotonic()
while time.monotonic() - started < 30:
    try:
        serving.serving_pause_check()
    except serving.ServingPaused:
        print("paused", flush=True)
        break
    time.sleep(0.02)
"""


@pytest.mark.django_db(transaction=True)
def test_a_pause_reaches_another_process_within_its_ttl():
    """A second process with its own cache (as another worker or task) stops predicting within PREDICTOR_PAUSE_TTL."""
    import subprocess
    import sys

    from django.conf import settings as django_settings

    from predictor.models import ServingChange
    from predictor.oversight import services as oversight
    from tests.conftest import database_url

    ttl = 1.0
    watcher = subprocess.Popen(
        [sys.executable, "-c", WATCHER], cwd=django_settings.BASE_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(django_settings.BASE_DIR), "DJANGO_SETTINGS_MODULE": "insurance_site.settings",
             "DATABASE_URL": database_url(), "DJANGO_SECRET_KEY": "insecure-key-for-the-test-suite-only", "PREDICTOR_PAUSE_TTL": str(ttl)},
    )
    try:
        assert watcher.stdout.readline().strip() == "ready", watcher.stderr.read()
        oversight.serving_pause(reason="stop everywhere", channel=ServingChange.Channel.COMMAND)
        paused_at = time.monotonic()
        assert watcher.stdout.readline().strip() == "paused", watcher.stderr.read()
        seen_after = time.monotonic() - paused_at
    finally:
        watcher.kill()
        watcher.wait()
    assert seen_after <= ttl + 0.5  # the TTL, and a margin for the other process's next loop and its pipe
