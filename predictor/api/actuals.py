"""``PUT /predictions/{id}/actual``: staff record the actual charges billed for a stored prediction.

The same service as the admin form, the upload page and ``record_actuals``
(``actuals.actual_charges_record``): the same rules and messages, who and when recorded, the
previous value kept in the audit trail, and the same value again changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from http import HTTPStatus
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Field, Router
from ninja.errors import AuthorizationError
from pydantic import BaseModel, ConfigDict, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from ..actuals import services as actuals
from ..models import ActualChargeChange, Prediction
from ..security.permissions import RECORD_PERMISSION, staff_with
from .auth import HISTORY_AUTH
from .body import JsonBody
from .errors import HISTORY_ERRORS, ApiError
from .schemas import PredictionOut

router = Router()

NOT_AN_OBJECT = 'Send one JSON object, like {"actual_charges": 16884.92}.'
AMOUNT_SCHEMA = {
    "type": "number",
    "minimum": 0,
    "maximum": float(actuals.MAX_ACTUAL_CHARGES),
    "description": "The yearly amount billed, in US dollars (rounded to the cent).",
    "examples": [16884.92],
}


class ActualIn(BaseModel):
    """The actual charges of one prediction. Other keys are ignored."""

    # Documented as required; a missing one is refused by the service, in its words and naming the field.
    model_config = ConfigDict(json_schema_extra={"required": ["actual_charges"]})

    # Checked by the service (with the form's words); the document shows it as a number.
    actual_charges: Annotated[Any, WithJsonSchema(AMOUNT_SCHEMA)] = None

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise PydanticCustomError("not_an_object", "{message}", {"message": NOT_AN_OBJECT})
        return data


class PredictionActualOut(PredictionOut):
    """A stored prediction with the actual charges recorded for it."""

    actual_charges: float | None = Field(description="The actual yearly charges recorded, in US dollars; null if none.")
    actual_recorded_at: datetime | None = Field(description="When the actual charges were last changed.")
    actual_recorded_by: str | None = Field(description="The staff user who last changed them (null for the command line).")

    @staticmethod
    def resolve_actual_recorded_by(prediction: Prediction) -> str | None:
        user = prediction.actual_recorded_by
        return user.get_username() if user is not None else None


def _recorder_require(request: HttpRequest) -> None:
    user = request.auth
    if not staff_with(user, RECORD_PERMISSION):
        raise AuthorizationError(
            message='Recording actual charges needs a staff account with the "Can record actual charges" permission.'
        )


@router.put(
    "/predictions/{prediction_id}/actual",
    response={HTTPStatus.OK: PredictionActualOut, **HISTORY_ERRORS, HTTPStatus.NOT_FOUND: ApiError,
              HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ApiError, HTTPStatus.UNSUPPORTED_MEDIA_TYPE: ApiError},
    auth=HISTORY_AUTH,
    url_name="api-prediction-actual",
    operation_id="predictor_api_prediction_actual_put",
    tags=["history (staff)"],
    summary="Record a prediction's actual charges (staff)",
    description=(
        "The yearly amount actually billed, from 0 to 1,000,000 dollars. Needs the \"Can record actual charges\" "
        "permission. The previous value is kept in the audit trail; sending the value already recorded changes nothing. "
        "A bad amount answers 400 and an unknown prediction 404; nothing is stored."
    ),
)
def prediction_actual_put(request: HttpRequest, prediction_id: int, body: Annotated[ActualIn, JsonBody(...)]):
    _recorder_require(request)
    if not 0 <= prediction_id <= actuals.MAX_ID:
        raise Http404(f"There is no prediction {prediction_id}.")
    value = body.actual_charges
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ValidationError({"actual_charges": [actuals.MESSAGES["invalid"]]})
    try:
        return actuals.actual_charges_record(
            prediction_id=prediction_id,
            actual_charges=value,
            recorded_by=request.auth,
            channel=ActualChargeChange.Channel.API,
        )
    except actuals.ActualRowsError as exc:
        if exc.unknown:
            raise Http404(f"There is no prediction {prediction_id}.") from exc
        fields: dict[str, list[str]] = {}
        for _, message in exc.problems():
            field, _, text = message.partition(": ")
            fields.setdefault(field, []).append(text)
        raise ValidationError(fields) from exc
