"""Writes: the one place a prediction is made and stored, for the form, the API, the admin and the commands."""

from __future__ import annotations

import hashlib
import io
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, connections, transaction
from django.utils import timezone

from . import pipeline, selectors
from .features import INTERVAL_GROUP_LABELS, interval_group
from .forms import PredictionForm
from .models import ApiToken, Batch, ModelVersion, Prediction

CENT = Decimal("0.01")
logger = logging.getLogger(__name__)


# PredictionForm's fields, cleaned one by one: exactly what binding the form does (it has no
# form-wide clean), without building a form per row, which costs most of a batch's time.
_INPUT_FIELDS = tuple(PredictionForm.base_fields.items())


def _input_clean(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, field in _INPUT_FIELDS:
        try:
            cleaned[name] = field.clean(data.get(name))
        except ValidationError as exc:
            errors[name] = exc.messages
    return cleaned, errors


def prediction_input_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate raw inputs with PredictionForm's fields; raise ValidationError naming each bad field."""
    cleaned, errors = _input_clean(data)
    if errors:
        raise ValidationError(errors)
    return cleaned


def _cents(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------------------
# Which model serves


@dataclass(frozen=True)
class _Serving:
    model: pipeline.LoadedModel
    version: ModelVersion
    read_at: float


_serving: _Serving | None = None


def model_version_register(model: pipeline.LoadedModel) -> ModelVersion:
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
        raise pipeline.ModelArtifactError(
            f"Model version {version.name} is registered with sha256 {version.sha256}, but the artifact "
            f"{model.path} has {model.sha256}. Give a retrained model a new name (train_model --name)."
        )
    return version


def model_version_activate(*, name: str | None = None) -> ModelVersion:
    """Make a model the one that serves (the default artifact when no name is given); others stop serving.

    Predictions already stored keep the version that made them. Every process notices within
    PREDICTOR_ACTIVE_MODEL_TTL seconds; this one at once.
    """
    model = pipeline.get_model(name)
    with transaction.atomic():
        version = model_version_register(model)
        ModelVersion.objects.filter(active=True).exclude(pk=version.pk).update(active=False)
        ModelVersion.objects.filter(pk=version.pk).update(active=True)
        version.active = True
    model_serving_reset()
    return version


def model_serving() -> tuple[pipeline.LoadedModel, ModelVersion]:
    """The active model and its version row.

    Read from the database at most every PREDICTOR_ACTIVE_MODEL_TTL seconds per process, so a
    prediction costs one INSERT and no other query. With no active version yet, the default
    artifact (PREDICTOR_PIPELINE_PATH) is registered and activated.
    """
    global _serving
    now = time.monotonic()
    current = _serving
    if current is not None and now - current.read_at < settings.PREDICTOR_ACTIVE_MODEL_TTL:
        return current.model, current.version
    version = selectors.model_version_active()
    if version is None:
        try:
            version = model_version_activate()
        except IntegrityError:  # another process activated one at the same moment
            version = ModelVersion.objects.get(active=True)
    model = pipeline.get_model(version.name)
    if model.sha256 != version.sha256:
        raise pipeline.ModelArtifactError(
            f"The active model version {version.name} is registered with sha256 {version.sha256}, "
            f"but its artifact {model.path} has {model.sha256}."
        )
    _serving = _Serving(model=model, version=version, read_at=now)
    return model, version


def model_warm_up() -> None:
    """Load the default model and, if the database answers, the active one, before workers fork.

    A missing or tampered artifact raises (the server must not start); an unreachable database
    does not (/healthz reports it). Connections are closed so no worker inherits this one's.
    """
    pipeline.get_model()
    try:
        model_serving()
    except DatabaseError:
        logger.warning("The database did not answer at start; the active model is loaded on first use.")
    finally:
        model_serving_reset()
        connections.close_all()


def model_serving_reset() -> None:
    """Forget this process's cached active model, so the next prediction reads it again."""
    global _serving
    _serving = None


# ---------------------------------------------------------------------------
# One prediction


def prediction_create(
    *,
    age: Any,
    sex: Any,
    bmi: Any,
    children: Any,
    smoker: Any,
    region: Any,
    source: str = Prediction.Source.SHELL,
) -> Prediction:
    """Validate one patient, predict their yearly charges and interval, and store them with one INSERT."""
    inputs = prediction_input_clean(
        {"age": age, "sex": sex, "bmi": bmi, "children": children, "smoker": smoker, "region": region}
    )
    model, version = model_serving()
    [(charges, low, high)] = pipeline.predict_charges_with_interval([inputs], model=model)
    prediction = Prediction(
        **inputs,
        predicted_charges=_cents(charges),
        predicted_charges_low=_cents(low),
        predicted_charges_high=_cents(high),
        model_version=version,
        source=source,
    )
    # The model version was just read; checking the foreign key again would cost a query.
    prediction.clean_fields(exclude=["model_version"])
    prediction.save()
    return prediction


def prediction_interval_group(prediction: Prediction) -> dict[str, Any] | None:
    """The interval group of a stored prediction and how often the model's interval held on the holdout for it."""
    card = prediction.model_version.card
    if prediction.predicted_charges_low is None or "interval" not in card:
        return None
    group = interval_group({"smoker": prediction.smoker, "bmi": prediction.bmi})
    return {
        "label": INTERVAL_GROUP_LABELS.get(group, group.replace("_", " ")),
        "coverage": card.get("holdout", {}).get("coverage_by_group", {}).get(group),
        "overall": card.get("holdout", {}).get("interval_coverage"),
        "rows": card.get("holdout", {}).get("rows"),
    }


def prediction_extrapolated_features(prediction: Prediction) -> list[str]:
    """The inputs of a stored prediction outside the range its model was trained on."""
    return pipeline.extrapolated_features(
        {"age": prediction.age, "bmi": prediction.bmi, "children": prediction.children},
        prediction.model_version.card,
    )


# ---------------------------------------------------------------------------
# Many rows at once: the API's arrays and CSV files


class PredictionRowsError(ValidationError):
    """Some rows of a batch are not valid; ``row_errors`` maps each bad row's index to its field messages."""

    def __init__(self, row_errors: dict[int, dict[str, list[str]]]):
        self.row_errors = dict(sorted(row_errors.items()))
        super().__init__(
            [
                f"row {index}, {field}: {message}"
                for index, fields in self.row_errors.items()
                for field, messages in fields.items()
                for message in messages
            ]
        )


# Progress is reported every this many rows, so a callback costs nothing measurable.
PROGRESS_EVERY = 1000
# Rows per INSERT statement where COPY is not available (SQLite), and per COPY on PostgreSQL.
BULK_SIZE = 5000
COPY_SIZE = 20_000
NOT_A_RECORD = "Each row must be a record with the fields age, sex, bmi, children, smoker and region."
NO_ROWS = "There are no rows to predict."


def prediction_rows_clean(
    rows: Sequence[Any], *, progress: Callable[[str, int], None] | None = None
) -> list[dict[str, Any]]:
    """Validate every row with PredictionForm's fields; raise PredictionRowsError naming every bad row and field."""
    cleaned: list[dict[str, Any]] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            errors[index] = {"__all__": [NOT_A_RECORD]}
        else:
            values, row_errors = _input_clean(row)
            if row_errors:
                errors[index] = row_errors
            else:
                cleaned.append(values)
        if progress and (index + 1) % PROGRESS_EVERY == 0:
            progress("validated", index + 1)
    if progress:
        progress("validated", len(rows))
    if errors:
        raise PredictionRowsError(errors)
    return cleaned


def prediction_create_many(
    *,
    rows: Sequence[Mapping[str, Any]],
    source: str,
    batch: Batch | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> list[Prediction]:
    """Validate every row, predict them all in one vectorised call, and store all or none with bulk inserts.

    A ``batch`` that is not saved yet is saved in the same transaction (with its
    ``row_count``), so a rejected or failed file leaves no Batch behind either.
    ``progress(stage, rows_done)`` is called now and then while validating and storing.
    """
    if not rows:
        raise ValidationError(NO_ROWS)
    inputs = prediction_rows_clean(rows, progress=progress)
    model, version = model_serving()
    if progress:
        progress("predicted", 0)
    charges = pipeline.predict_charges_with_interval(inputs, model=model)
    if progress:
        progress("predicted", len(inputs))
    Prediction._meta.get_field("source").clean(source, None)  # the same for every row: checked once
    with transaction.atomic():
        if batch is not None and batch.pk is None:
            batch.row_count = len(inputs)
            batch.full_clean()
            batch.save()
        created_at = timezone.now()
        predictions = [
            Prediction(
                **row,
                predicted_charges=_cents(charge),
                predicted_charges_low=_cents(low),
                predicted_charges_high=_cents(high),
                model_version=version,
                source=source,
                batch=batch,
                created_at=created_at,
            )
            for row, (charge, low, high) in zip(inputs, charges, strict=True)
        ]
        # Every value was validated above or computed here; the foreign keys were just read or saved.
        _predictions_insert(predictions, progress=progress)
    return predictions


_COPY_COLUMNS = (
    "id", "age", "sex", "bmi", "children", "smoker", "region", "predicted_charges", "predicted_charges_low",
    "predicted_charges_high", "model_version_id", "source", "created_at", "batch_id",
)


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return repr(value) if isinstance(value, float) else str(value)


def _predictions_insert(predictions: list[Prediction], *, progress: Callable[[str, int], None] | None) -> None:
    """Insert many new predictions, with PostgreSQL's COPY when available (ids reserved from the sequence first)."""
    if connection.vendor != "postgresql":
        for start in range(0, len(predictions), BULK_SIZE):
            Prediction.objects.bulk_create(predictions[start : start + BULK_SIZE])
            if progress:
                progress("stored", min(start + BULK_SIZE, len(predictions)))
        return
    table = Prediction._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, len(predictions)]
        )
        for prediction, (pk,) in zip(predictions, cursor.fetchall(), strict=True):
            prediction.pk = pk
        for start in range(0, len(predictions), COPY_SIZE):
            chunk = predictions[start : start + COPY_SIZE]
            buffer = io.StringIO()
            buffer.writelines(
                "\t".join(_copy_value(getattr(prediction, column)) for column in _COPY_COLUMNS) + "\n"
                for prediction in chunk
            )
            buffer.seek(0)
            with connection.wrap_database_errors:  # raw psycopg2 call: map its errors to Django's
                cursor.copy_expert(f"COPY {table} ({', '.join(_COPY_COLUMNS)}) FROM STDIN", buffer)
            if progress:
                progress("stored", start + len(chunk))
    for prediction in predictions:
        prediction._state.adding = False
        prediction._state.db = connection.alias


def batch_create(
    *,
    rows: Sequence[Mapping[str, Any]],
    file_name: str,
    created_by: AbstractBaseUser | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> tuple[Batch, list[Prediction]]:
    """Score the rows of one CSV file as a Batch (source "batch"): all rows stored with it, or nothing."""
    batch = Batch(file_name=file_name[: Batch._meta.get_field("file_name").max_length], created_by=created_by)
    predictions = prediction_create_many(rows=rows, source=Prediction.Source.BATCH, batch=batch, progress=progress)
    return batch, predictions


# ---------------------------------------------------------------------------
# API tokens: only a hash is stored; the token is shown once, when it is made.

API_TOKEN_BYTES = 32
# Recording every use would write on every read; once a minute is enough to see a token is alive.
API_TOKEN_TOUCH_INTERVAL = timedelta(minutes=1)


def api_token_hash(key: str) -> str:
    """The stored form of a token: its sha256 (the token is 256 random bits, so no slow hash is needed)."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: AbstractBaseUser, name: str) -> tuple[ApiToken, str]:
    """Make a token for a user; return the row and the token itself, which is not stored anywhere."""
    key = secrets.token_urlsafe(API_TOKEN_BYTES)
    token = ApiToken(user=user, name=name, prefix=key[:8], key_hash=api_token_hash(key))
    token.full_clean()
    token.save()
    return token, key


def api_token_authenticate(*, key: str) -> AbstractBaseUser | None:
    """The active user a token belongs to (recording when it was used), or None for an unknown token."""
    token = ApiToken.objects.select_related("user").filter(key_hash=api_token_hash(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > API_TOKEN_TOUCH_INTERVAL:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
