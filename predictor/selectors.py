"""Reads: how views, the API, the admin and commands look up stored predictions and the active model version."""

from __future__ import annotations

from datetime import datetime

from django.core import signing
from django.db.models import QuerySet

from .models import ModelVersion, Prediction, ServingChange

# A result page link is a signed prediction id, so that nobody can read another
# patient's result by counting ids, and it expires.
RESULT_SALT = "predictor.result"
RESULT_MAX_AGE_SECONDS = 60 * 60


def prediction_result_token(prediction: Prediction) -> str:
    """The opaque token of a prediction's result page."""
    return signing.dumps(prediction.pk, salt=RESULT_SALT)


def prediction_get_by_result_token(token: str) -> Prediction | None:
    """The prediction a result token names, or None when it is forged, expired or gone."""
    try:
        prediction_id = signing.loads(token, salt=RESULT_SALT, max_age=RESULT_MAX_AGE_SECONDS)
    except signing.BadSignature:
        return None
    return prediction_get(prediction_id=prediction_id)


def prediction_list() -> QuerySet[Prediction]:
    """All predictions, newest first, with the model version joined (no per-row queries)."""
    return Prediction.objects.select_related("model_version").order_by("-created_at", "-id")


def model_version_active() -> ModelVersion | None:
    """The model version currently marked active, if any."""
    return ModelVersion.objects.filter(active=True).first()


def model_version_challenger() -> ModelVersion | None:
    """The model version currently marked the challenger, if any."""
    return ModelVersion.objects.filter(challenger=True).first()


def serving_change_latest() -> ServingChange | None:
    """The latest pause or resume of the service (it says whether the service is paused), if any."""
    return ServingChange.objects.order_by("-id").first()


def prediction_history(*, since: datetime | None = None, until: datetime | None = None) -> QuerySet[Prediction]:
    """Predictions made at or after ``since`` and before ``until``, newest first, for the history API."""
    predictions = prediction_list()
    if since is not None:
        predictions = predictions.filter(created_at__gte=since)
    if until is not None:
        predictions = predictions.filter(created_at__lt=until)
    return predictions


def prediction_get(*, prediction_id: int) -> Prediction | None:
    """One prediction with its model version, or None."""
    return prediction_list().filter(pk=prediction_id).first()
