"""Which model serves: a read-only lookup of the active version, explicit changes, and the warm-up.

Reads never write. A version becomes active only through ``model_version_activate`` (the
``activate_model`` command, the promotion of the challenger, the admin, or the start-up step
``activate_model --if-none-active``, which ``make run`` and the container's start run after
migrating), and the challenger changes only through ``model_version_challenger_set`` and
``model_version_challenger_clear``. Each change writes one ``ModelChange`` row in the same
transaction: who, through which channel, why, and the evidence at that moment.

The floor (``predictor.ml.floor``): a version that answers below $0 anywhere on a grid over the
inputs the form accepts cannot become the champion, whatever the path; it may be the challenger.

Whether staff paused the service (``predictor.oversight``) is read the same way: from the
database at most every PREDICTOR_PAUSE_TTL seconds per process (``serving_pause_state``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, connections, transaction

from . import selectors
from .forms import LIMITS, PredictionForm
from .ml.artifacts import LoadedModel, ModelArtifactError, artifact_path_for, get_model
from .ml.floor import BelowFloorError, FloorVerdict, floor_check, floor_require, grid_axes  # noqa: F401 (re-exported)
from .models import ModelChange, ModelVersion, Prediction

logger = logging.getLogger(__name__)


class NoActiveModelError(ModelArtifactError):
    """No model version is marked active yet."""


class ChallengerNotPromotedError(ModelArtifactError):
    """The challenger becomes the champion only through its promotion, on the comparison's verdict."""


CHALLENGER_NOT_PROMOTED = (
    "{name} is the challenger: it becomes the champion only through `manage.py promote_challenger`, "
    "on the comparison's verdict (or with --force and a reason)."
)

NO_ACTIVE_MODEL = (
    "No model version is active. Activate one with `python manage.py activate_model NAME` "
    "(the start-up does it with `activate_model --if-none-active`, which serves PREDICTOR_PIPELINE_PATH)."
)


@dataclass(frozen=True)
class _Serving:
    model: LoadedModel
    version: ModelVersion
    read_at: float


_serving: _Serving | None = None


def model_serving() -> tuple[LoadedModel, ModelVersion]:
    """The active model and its version row; raise NoActiveModelError when none is active.

    Read from the database at most every PREDICTOR_ACTIVE_MODEL_TTL seconds per process, so a
    prediction costs one INSERT and no other query. Never writes.
    """
    global _serving
    now = time.monotonic()
    current = _serving
    if current is not None and now - current.read_at < settings.PREDICTOR_ACTIVE_MODEL_TTL:
        return current.model, current.version
    version = selectors.model_version_active()
    if version is None:
        raise NoActiveModelError(NO_ACTIVE_MODEL)
    model = get_model(version.name)
    if model.sha256 != version.sha256:
        raise ModelArtifactError(
            f"The active model version {version.name} is registered with sha256 {version.sha256}, "
            f"but its artifact {model.path} has {model.sha256}."
        )
    _serving = _Serving(model=model, version=version, read_at=now)
    return model, version


def model_serving_reset() -> None:
    """Forget this process's cached active model, so the next prediction reads it again."""
    global _serving
    _serving = None


# ---------------------------------------------------------------------------
# The pause (predictor.oversight writes it; every prediction reads it here)


class ServingPaused(Exception):
    """Staff paused the service: no prediction is made or stored until it is resumed."""


@dataclass(frozen=True)
class PauseState:
    """Whether the service is paused, since when, by whom and why (the latest ``ServingChange``)."""

    paused: bool
    since: datetime | None = None
    username: str = ""
    reason: str = ""
    read_at: float = 0.0


_pause: PauseState | None = None


def serving_pause_state() -> PauseState:
    """Whether the service is paused, read from the database at most every PREDICTOR_PAUSE_TTL seconds per process.

    So the pause costs a prediction no query, and it reaches every process within that time. Never writes.
    """
    global _pause
    now = time.monotonic()
    current = _pause
    if current is not None and now - current.read_at < settings.PREDICTOR_PAUSE_TTL:
        return current
    latest = selectors.serving_change_latest()
    if latest is None or latest.kind != latest.Kind.PAUSE:
        current = PauseState(paused=False, read_at=now)
    else:
        current = PauseState(paused=True, since=latest.created_at, username=latest.username, reason=latest.reason, read_at=now)
    _pause = current
    return current


def serving_pause_check() -> None:
    """Raise ServingPaused while staff have paused the service (a cached read: ``serving_pause_state``)."""
    if serving_pause_state().paused:
        raise ServingPaused("the service is paused by its staff; no prediction is made or stored until it is resumed")


def serving_pause_reset() -> None:
    """Forget this process's cached pause state, so the next prediction reads it again."""
    global _pause
    _pause = None


def model_version_register(model: LoadedModel) -> ModelVersion:
    """The ModelVersion row of a verified model, created the first time it is seen."""
    card = model.card
    version, _ = ModelVersion.objects.get_or_create(
        name=model.name,
        defaults={
            "sha256": model.sha256,
            "metrics": {"cv": card.get("cv", {}), "holdout": card.get("holdout", {})},
            "card": card,
            "trained_at": datetime.fromisoformat(card["trained_at"]),
        },
    )
    if version.sha256 != model.sha256:
        raise ModelArtifactError(
            f"Model version {version.name} is registered with sha256 {version.sha256}, but the artifact "
            f"{model.path} has {model.sha256}. Give a retrained model a new name (train_model --name)."
        )
    return version


def floor_axes() -> dict[str, tuple]:
    """The floor's grid over what the form accepts: its limits (whole numbers where its field is), every choice."""
    whole = [name for name, field in PredictionForm.base_fields.items() if isinstance(field, forms.IntegerField)]
    choices = {"sex": Prediction.Sex.values, "smoker": Prediction.Smoker.values, "region": Prediction.Region.values}
    return grid_axes(limits=LIMITS, whole=whole, choices=choices)


def model_version_floor(name: str | None = None) -> FloorVerdict:
    """The floor's verdict on a version's verified artifact (the default one when no name is given)."""
    return floor_check(get_model(name), floor_axes())


@dataclass(frozen=True)
class ChangeBy:
    """Who changes the model, through which channel and why; the evidence is the comparison's JSON, if any."""

    channel: str = ModelChange.Channel.COMMAND
    user: AbstractBaseUser | None = None
    reason: str = ""
    forced: bool = False
    evidence: dict[str, Any] | None = None


def _change_record(kind: str, before: ModelVersion | None, after: ModelVersion | None, by: ChangeBy) -> ModelChange:
    return ModelChange.objects.create(
        kind=kind,
        from_version=before,
        to_version=after,
        changed_by=by.user,
        username=by.user.get_username() if by.user is not None else "",
        channel=by.channel,
        reason=by.reason,
        forced=by.forced,
        evidence=by.evidence or {},
    )


def model_version_activate(*, name: str | None = None, by: ChangeBy = ChangeBy()) -> ModelVersion:
    """Make a model the one that serves (the default artifact when no name is given); others stop serving.

    The change is recorded (``ModelChange``); activating the version that already serves changes
    and records nothing. The challenger becomes the champion only through its promotion (channel
    ``promotion``), and then stops being the challenger.
    Predictions already stored keep the version that made them. Every process notices within
    PREDICTOR_ACTIVE_MODEL_TTL seconds; this one at once. A version below the floor is refused
    (``BelowFloorError``, saying where) and nothing changes.
    """
    model = get_model(name)
    floor_require(model, floor_axes())
    with transaction.atomic():
        version = model_version_register(model)
        before = ModelVersion.objects.select_for_update().filter(active=True).first()
        if before is not None and before.pk == version.pk:
            return before
        if by.channel != ModelChange.Channel.PROMOTION and ModelVersion.objects.filter(pk=version.pk, challenger=True).exists():
            raise ChallengerNotPromotedError(CHALLENGER_NOT_PROMOTED.format(name=version.name))
        if before is not None:
            ModelVersion.objects.filter(pk=before.pk).update(active=False)
        ModelVersion.objects.filter(pk=version.pk).update(active=True, challenger=False)
        version.active, version.challenger = True, False
        _change_record(ModelChange.Kind.CHAMPION, before, version, by)
    model_serving_reset()
    logger.info("Model version %s is now active (%s)", version.name, model.path)
    return version


def model_version_challenger_set(*, name: str, by: ChangeBy = ChangeBy()) -> ModelVersion:
    """Make a verified version the challenger (replacing any other); never the active one. Recorded."""
    model = get_model(name)  # verifies the artifact against its card: a tampered one is refused here
    with transaction.atomic():
        version = model_version_register(model)
        if ModelVersion.objects.filter(pk=version.pk, active=True).exists():
            raise ModelArtifactError(f"{version.name} is the active model (the champion); it cannot also be the challenger.")
        before = ModelVersion.objects.select_for_update().filter(challenger=True).first()
        if before is not None and before.pk == version.pk:
            return before
        if before is not None:
            ModelVersion.objects.filter(pk=before.pk).update(challenger=False)
        ModelVersion.objects.filter(pk=version.pk).update(challenger=True)
        version.challenger = True
        _change_record(ModelChange.Kind.CHALLENGER_SET, before, version, by)
    return version


def model_version_challenger_clear(*, by: ChangeBy = ChangeBy()) -> ModelVersion | None:
    """Clear the challenger; the version that was the challenger, or None when there was none (nothing recorded)."""
    with transaction.atomic():
        before = ModelVersion.objects.select_for_update().filter(challenger=True).first()
        if before is None:
            return None
        ModelVersion.objects.filter(pk=before.pk).update(challenger=False)
        before.challenger = False
        _change_record(ModelChange.Kind.CHALLENGER_CLEAR, before, None, by)
    return before


def model_version_activate_if_none() -> tuple[ModelVersion, bool]:
    """The start-up step: activate the default artifact when no version is active; (version, whether it did)."""
    version = selectors.model_version_active()
    if version is not None:
        return version, False
    try:
        return model_version_activate(by=ChangeBy(channel=ModelChange.Channel.STARTUP)), True
    except IntegrityError:  # another task activated one at the same moment
        return ModelVersion.objects.get(active=True), False


def warm_up() -> None:
    """Before workers fork: load and verify the default artifact and the active version's, so their memory is shared.

    A missing or tampered default artifact raises: the server must not start. The database is
    only read; if it does not answer now, each worker reads the active version on first use and
    /healthz reports the database. Connections are closed so no worker inherits this one's.
    """
    get_model()
    try:
        active = selectors.model_version_active()
    except DatabaseError as exc:
        logger.warning("The database did not answer at start (%s); the active model loads on first use.", exc)
        active = None
    finally:
        connections.close_all()
    if active is not None and artifact_path_for(active.name).is_file():
        get_model(active.name)
