"""Writes: the one place a prediction is made and stored, for the form, the API, the admin and the commands."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from . import pipeline
from .forms import PredictionForm
from .models import ApiToken, Batch, ModelVersion, Prediction

CENT = Decimal("0.01")


def prediction_input_clean(data: dict[str, Any]) -> dict[str, Any]:
    """Validate raw inputs with PredictionForm; raise ValidationError naming each bad field."""
    form = PredictionForm(data=data)
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    return form.cleaned_data


def model_version_for(model: pipeline.LoadedModel) -> ModelVersion:
    """The ModelVersion row of a loaded model, registered and made active on first use."""
    card = model.card
    version = ModelVersion.objects.filter(name=model.name).first()
    if version is None:
        with transaction.atomic():
            ModelVersion.objects.filter(active=True).update(active=False)
            version, _ = ModelVersion.objects.get_or_create(
                name=model.name,
                defaults={
                    "sha256": model.sha256,
                    "metrics": {"cv": card.get("cv", {}), "holdout": card.get("holdout", {})},
                    "card": card,
                    "trained_at": datetime.fromisoformat(card["trained_at"]),
                    "active": True,
                },
            )
    if version.sha256 != model.sha256:
        raise pipeline.ModelArtifactError(
            f"Model version {version.name} is registered with sha256 {version.sha256}, but the artifact "
            f"{model.path} has {model.sha256}. Give a retrained model a new name (train_model --name)."
        )
    return version


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
    """Validate one patient, predict their yearly charges and store both in one transaction."""
    inputs = prediction_input_clean(
        {"age": age, "sex": sex, "bmi": bmi, "children": children, "smoker": smoker, "region": region}
    )
    model = pipeline.get_model()
    [charges] = pipeline.predict_charges([inputs], model=model)
    with transaction.atomic():
        prediction = Prediction(
            **inputs,
            predicted_charges=Decimal(repr(charges)).quantize(CENT, rounding=ROUND_HALF_UP),
            model_version=model_version_for(model),
            source=source,
        )
        prediction.full_clean()
        prediction.save()
    return prediction


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
# Rows per INSERT statement: large enough to be fast, small enough to keep each statement modest.
BULK_SIZE = 5000
NOT_A_RECORD = "Each row must be a record with the fields age, sex, bmi, children, smoker and region."
NO_ROWS = "There are no rows to predict."


def prediction_rows_clean(
    rows: Sequence[Any], *, progress: Callable[[str, int], None] | None = None
) -> list[dict[str, Any]]:
    """Validate every row with PredictionForm; raise PredictionRowsError naming every bad row and field."""
    cleaned: list[dict[str, Any]] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            errors[index] = {"__all__": [NOT_A_RECORD]}
        else:
            try:
                cleaned.append(prediction_input_clean(dict(row)))
            except ValidationError as exc:
                errors[index] = exc.message_dict
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
    model = pipeline.get_model()
    if progress:
        progress("predicted", 0)
    charges = pipeline.predict_charges(inputs, model=model)
    if progress:
        progress("predicted", len(inputs))
    with transaction.atomic():
        version = model_version_for(model)
        if batch is not None and batch.pk is None:
            batch.row_count = len(inputs)
            batch.full_clean()
            batch.save()
        created_at = timezone.now()
        predictions = [
            Prediction(
                **row,
                predicted_charges=Decimal(repr(charge)).quantize(CENT, rounding=ROUND_HALF_UP),
                model_version=version,
                source=source,
                batch=batch,
                created_at=created_at,
            )
            for row, charge in zip(inputs, charges, strict=True)
        ]
        for prediction in predictions:
            # The foreign keys were just read or saved; checking them again would cost a query per row.
            prediction.clean_fields(exclude=["model_version", "batch"])
        for start in range(0, len(predictions), BULK_SIZE):
            Prediction.objects.bulk_create(predictions[start : start + BULK_SIZE])
            if progress:
                progress("stored", min(start + BULK_SIZE, len(predictions)))
    return predictions


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
