"""``POST /predictions/{id}/override``: staff record a reviewed charge over a stored prediction's estimate.

The same service as the admin's page (``oversight.services.charge_override_record``): the same rules
and messages; the estimate is kept, the override is append-only, with who, when, the figure before and why.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from ninja import Router
from ninja.errors import AuthorizationError
from pydantic import BaseModel, ConfigDict, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

from ..actuals.services import MAX_ID
from ..models import ChargeOverride
from ..oversight import services as oversight
from ..security.permissions import OVERRIDE_PERMISSION, staff_with
from .auth import HISTORY_AUTH
from .body import JsonBody
from .errors import HISTORY_ERRORS, ApiError
from .schemas import OverrideOut

router = Router()

OVERRIDE_NOT_AN_OBJECT = 'Send one JSON object, like {"reviewed_charges": 15000, "reason": "Reviewed with the claims history"}.'
REVIEWED_SCHEMA = {
    "type": "number",
    "minimum": 0,
    "maximum": float(oversight.MAX_REVIEWED_CHARGES),
    "description": "The reviewed yearly charge, in US dollars (rounded to the cent).",
    "examples": [15000],
}
REASON_SCHEMA = {
    "type": "string",
    "pattern": r"\S",
    "maxLength": oversight.MAX_REASON_LENGTH,
    "description": "Why the estimate is overridden (required); kept with the override.",
    "examples": ["Reviewed with the claims history"],
}


class OverrideIn(BaseModel):
    """A reviewed charge and its reason. Other keys are ignored."""

    # Documented as required; a missing one is refused by the service, in its words and naming the field.
    model_config = ConfigDict(json_schema_extra={"required": ["reviewed_charges", "reason"]})

    reviewed_charges: Annotated[Any, WithJsonSchema(REVIEWED_SCHEMA)] = None
    reason: Annotated[Any, WithJsonSchema(REASON_SCHEMA)] = None

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise PydanticCustomError("not_an_object", "{message}", {"message": OVERRIDE_NOT_AN_OBJECT})
        return data


@router.post(
    "/predictions/{prediction_id}/override",
    response={HTTPStatus.CREATED: OverrideOut, **HISTORY_ERRORS, HTTPStatus.NOT_FOUND: ApiError,
              HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ApiError, HTTPStatus.UNSUPPORTED_MEDIA_TYPE: ApiError},
    auth=HISTORY_AUTH,
    url_name="api-prediction-override",
    operation_id="predictor_api_prediction_override_create",
    tags=["history (staff)"],
    summary="Override a prediction's estimate with a reviewed charge (staff)",
    description=(
        "Records the yearly charge staff decided on, from 0 to 1,000,000 dollars, with the reason (required). Needs the "
        "\"Can override an estimate with a reviewed charge\" permission. The model's estimate (`predicted_charges`) is kept; "
        "overrides are append-only, and the latest is the prediction's `reviewed_charges`. A bad charge, no reason or the "
        "figure already in force answers 400 and an unknown prediction 404; nothing is stored. Works while the service is paused."
    ),
)
def prediction_override_post(request: HttpRequest, prediction_id: int, body: Annotated[OverrideIn, JsonBody(...)]):
    if not staff_with(request.auth, OVERRIDE_PERMISSION):
        raise AuthorizationError(message=oversight.OVERRIDE_MESSAGES["forbidden"])
    if not 0 <= prediction_id <= MAX_ID:  # beyond a bigint: no such prediction
        raise Http404(f"There is no prediction {prediction_id}.")
    value = body.reviewed_charges
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):  # JSON numbers only
        raise ValidationError({"reviewed_charges": [oversight.OVERRIDE_MESSAGES["invalid"]]})
    try:
        override = oversight.charge_override_record(
            prediction_id=prediction_id, reviewed_charges=value, reason=body.reason,
            user=request.auth, channel=ChargeOverride.Channel.API,
        )
    except oversight.PredictionNotFound as exc:
        raise Http404(str(exc)) from exc
    return HTTPStatus.CREATED, override
