"""serving: which model serves; the read-only lookup of the active version, the explicit activation, the warm-up."""

import time
from decimal import Decimal
from types import SimpleNamespace

import pytest

from predictor import serving, services
from predictor.ml import artifacts, predict
from predictor.models import ModelVersion
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
    serving.model_version_activate(name="tutorial-lr-v1")
    after = services.prediction_create(**valid_inputs)
    before.refresh_from_db()
    assert before.model_version.name == loaded_model.name
    assert after.model_version.name == "tutorial-lr-v1"
    assert after.predicted_charges_low is None  # the tutorial model has no interval
    assert list(ModelVersion.objects.filter(active=True).values_list("name", flat=True)) == ["tutorial-lr-v1"]
    [tutorial_charge] = predict.predict_charges([valid_inputs], model=artifacts.get_model("tutorial-lr-v1"))
    assert after.predicted_charges == Decimal(str(round(tutorial_charge, 2)))
    expected = golden.answer_for(valid_inputs, "tutorial-lr-v1").charges
    assert abs(after.predicted_charges - expected) <= Decimal(str(golden.tolerance("tutorial-lr-v1")))


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
    serving.model_version_activate(name="tutorial-lr-v1")
    version, activated = serving.model_version_activate_if_none()
    assert not activated and version.name == "tutorial-lr-v1"
    assert list(ModelVersion.objects.filter(active=True).values_list("name", flat=True)) == ["tutorial-lr-v1"]


@pytest.mark.django_db
@pytest.mark.no_active_model
def test_a_registered_name_with_another_hash_cannot_be_activated(loaded_model):
    ModelVersionFactory(name=loaded_model.name, sha256="0" * 64)
    with pytest.raises(artifacts.ModelArtifactError, match="Give a retrained model a new name"):
        serving.model_version_activate()
    assert not ModelVersion.objects.filter(active=True).exists()


# ---------------------------------------------------------------------------
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
