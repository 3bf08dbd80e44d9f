"""Writes: the one place a prediction is made and stored, for the form, the API, the admin and the commands."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from . import pipeline
from .forms import PredictionForm
from .models import ModelVersion, Prediction

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
