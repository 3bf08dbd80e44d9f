"""The JSON API, version 1: anyone creates predictions (one or many); staff read the history.

Input is validated by ``PredictionForm`` through the services, the same definition the
web form uses. The pydantic schemas below only describe that input for the OpenAPI
document: their types, bounds, choices and descriptions are read from the form's fields
(which take them from ``forms.LIMITS`` and the model's choices), never written twice.
The request body of ``POST /predictions`` is read here rather than by django-ninja, so
that content type, size and JSON errors get their own status codes and every answer
has one error shape (``ApiError``).
"""

from __future__ import annotations

import json
import logging
import re
from datetime import datetime
from datetime import timezone as dt_timezone
from http import HTTPStatus
from typing import Annotated, Any, Literal

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import Error as DatabaseDriverError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Query, Schema
from ninja.errors import AuthorizationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.openapi.schema import REF_TEMPLATE
from ninja.security import HttpBearer, SessionAuth
from pydantic import BeforeValidator, create_model

from . import selectors, services, tokens
from .ml.artifacts import ModelArtifactError
from .forms import PredictionForm
from .models import Prediction

logger = logging.getLogger(__name__)

MAX_BATCH_RECORDS = 10_000
MAX_PAGE_SIZE = 1000
# Far beyond any real history; it keeps OFFSET inside PostgreSQL's bigint.
MAX_OFFSET = 2**31 - 1
INPUT_NAMES = tuple(PredictionForm.base_fields)
FLOAT_LIMIT = 10**308
EXAMPLE_RECORD = {"age": 19, "sex": "female", "bmi": 27.9, "children": 0, "smoker": "yes", "region": "southwest"}
EXAMPLE_BATCH = [
    EXAMPLE_RECORD,
    {"age": 33, "sex": "male", "bmi": 22.705, "children": 0, "smoker": "no", "region": "northwest"},
]


# ---------------------------------------------------------------------------
# Schemas, derived from the form


def _choice_values(field: forms.ChoiceField) -> tuple[str, ...]:
    return tuple(str(value) for value, _ in field.choices if value != "")


def _input_field(name: str, *, bounded: bool) -> tuple[Any, Any]:
    """The pydantic type and Field of one form field: its JSON type, range or choices, and label."""
    field = PredictionForm.base_fields[name]
    description = ": ".join(part for part in (str(field.label), str(field.help_text or "")) if part)
    if isinstance(field, forms.ChoiceField):
        return Literal[_choice_values(field)], Field(description=description, examples=[EXAMPLE_RECORD[name]])
    # Django's FloatField is a subclass of IntegerField, so ask about floats first.
    kind = float if isinstance(field, forms.FloatField) else int
    bounds = {"ge": field.min_value, "le": field.max_value} if bounded else {}
    return kind, Field(description=description, examples=[EXAMPLE_RECORD[name]], **bounds)


PredictionIn = create_model(
    "PredictionIn",
    __base__=Schema,
    __doc__="One patient: the six inputs, with the ranges and choices the web form accepts. Other keys are ignored.",
    **{name: _input_field(name, bounded=True) for name in INPUT_NAMES},
)

# Stored rows echo their inputs without the range checks: a row stays readable if the ranges change later.
_PredictionInputsOut = create_model(
    "_PredictionInputsOut", __base__=Schema, **{name: _input_field(name, bounded=False) for name in INPUT_NAMES}
)


class PredictionOut(_PredictionInputsOut):
    """A stored prediction: its id, the predicted yearly charges, the model that answered, and the inputs."""

    id: int
    predicted_charges: float = Field(description="Predicted yearly charges in US dollars, to the cent.")
    predicted_charges_low: float | None = Field(
        description="Lower end of the model's 90% prediction interval, in US dollars; null if the model has none."
    )
    predicted_charges_high: float | None = Field(
        description="Upper end of the model's 90% prediction interval, in US dollars; null if the model has none."
    )
    model_version: str = Field(description="Name of the model version that made the prediction.")
    created_at: datetime
    source: Literal[tuple(Prediction.Source.values)] = Field(description="Where the prediction was requested.")
    extrapolated: list[str] = Field(
        description="Inputs outside the range the model was trained on; the estimate is an extrapolation for them."
    )


class PredictionBatchOut(Schema):
    """The predictions of a batch, in the order of the records sent."""

    predictions: list[PredictionOut]


class PredictionPage(Schema):
    """One page of the history, newest first; ``next`` is the URL of the following page, or null."""

    predictions: list[PredictionOut]
    next: str | None = Field(description="URL of the next page, or null on the last page.")


class FieldError(Schema):
    """One problem: which record (in a batch), which input, and what is wrong."""

    index: int | None = Field(description="Position of the bad record in the array sent (0-based); null for one record.")
    field: str | None = Field(description="The input or parameter at fault; null when it is the record or body itself.")
    message: str


class ApiError(Schema):
    """Every error answer: a summary and, for invalid input, one entry per problem."""

    detail: str
    errors: list[FieldError]


def _date_time_text(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a date-time: numbers (Unix times) and bare dates."""
    if not (isinstance(value, str) and DATE_TIME_START.match(value)):
        raise ValueError("Enter a date and time like 2025-01-31T09:00:00Z (ISO 8601; without an offset, UTC).")
    return value


DATE_TIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
DateTimeParameter = Annotated[datetime, BeforeValidator(_date_time_text)]


class HistoryFilters(Schema):
    since: DateTimeParameter | None = Field(None, description="Only predictions made at or after this time (ISO 8601).")
    until: DateTimeParameter | None = Field(None, description="Only predictions made before this time (ISO 8601).")
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE, description="Predictions per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="How many predictions to skip.")


# ---------------------------------------------------------------------------
# Authentication for the history


class ApiTokenAuth(HttpBearer):
    """``Authorization: Bearer TOKEN``, a token made with ``manage.py create_api_token`` or in the admin."""

    def authenticate(self, request: HttpRequest, token: str):
        return tokens.api_token_authenticate(key=token)


HISTORY_AUTH = [ApiTokenAuth(), SessionAuth()]


def _require_history_reader(request: HttpRequest) -> None:
    if not tokens.history_reader(request.auth):
        raise AuthorizationError(
            message='Reading the history needs a staff account with the "Can view prediction" permission.'
        )


# ---------------------------------------------------------------------------
# The API object, its error answers and its OpenAPI document


class PredictorApi(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        """Ninja's document plus PredictionIn, which the hand-read request body refers to."""
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["PredictionIn"] = PredictionIn.model_json_schema(ref_template=REF_TEMPLATE)
        return schema


api = PredictorApi(
    title="Insurance charges predictor API",
    version="1",
    description=(
        "Predict a patient's yearly medical insurance charges from six facts, one patient or up to "
        f"{MAX_BATCH_RECORDS:,} at once. Every prediction is stored. Staff read the stored history with "
        "their admin session or an API token (`Authorization: Bearer TOKEN`)."
    ),
    urls_namespace="api-v1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


def _error(request: HttpRequest, status: int, detail: str, errors: list[dict] = ()) -> HttpResponse:
    """The one place an error answer is made: ``{"detail": ..., "errors": [...]}``."""
    return api.create_response(request, {"detail": detail, "errors": list(errors)}, status=status)


def _field_errors(message_dict: dict[str, list[str]], index: int | None = None) -> list[dict]:
    return [
        {"index": index, "field": None if field == "__all__" else field, "message": message}
        for field, messages in message_dict.items()
        for message in messages
    ]


@api.exception_handler(services.PredictionRowsError)
def _rows_invalid(request: HttpRequest, exc: services.PredictionRowsError) -> HttpResponse:
    errors = [error for index, fields in exc.row_errors.items() for error in _field_errors(fields, index)]
    count = len(exc.row_errors)
    detail = f"{count:,} record{'s are' if count != 1 else ' is'} not valid; nothing was stored."
    return _error(request, HTTPStatus.BAD_REQUEST, detail, errors)


@api.exception_handler(ValidationError)
def _input_invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = _field_errors(exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages})
    return _error(request, HTTPStatus.BAD_REQUEST, "The input is not valid; nothing was stored.", errors)


@api.exception_handler(NinjaValidationError)
def _parameters_invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"index": None, "field": str(error["loc"][-1]) if error.get("loc") else None, "message": error["msg"]}
        for error in exc.errors
    ]
    return _error(request, HTTPStatus.BAD_REQUEST, "The parameters are not valid.", errors)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail = str(exc)
    if exc.status_code == HTTPStatus.UNAUTHORIZED:
        detail = "Log in as staff or send an API token: Authorization: Bearer TOKEN."
    response = _error(request, exc.status_code, detail)
    if exc.status_code == HTTPStatus.UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, HTTPStatus.NOT_FOUND, str(exc) or "Not found.")


# django.db.Error, not just DatabaseError: a lost connection raises InterfaceError.
@api.exception_handler(DatabaseDriverError)
def _database_unavailable(request: HttpRequest, exc: DatabaseDriverError) -> HttpResponse:
    logger.exception("The API could not reach the database")
    return _error(request, HTTPStatus.SERVICE_UNAVAILABLE, "The database is not available; nothing was stored.")


@api.exception_handler(ModelArtifactError)
def _model_unavailable(request: HttpRequest, exc: ModelArtifactError) -> HttpResponse:
    logger.exception("The API could not load the model")
    return _error(request, HTTPStatus.SERVICE_UNAVAILABLE, "The prediction model is not available right now.")


@api.exception_handler(services.PredictionUnavailable)
def _prediction_unavailable(request: HttpRequest, exc: services.PredictionUnavailable) -> HttpResponse:
    handler = _model_unavailable if exc.kind == "model" else _database_unavailable
    return handler(request, exc.__cause__)


ERRORS = {
    HTTPStatus.BAD_REQUEST: ApiError,
    HTTPStatus.SERVICE_UNAVAILABLE: ApiError,
}
HISTORY_ERRORS = {**ERRORS, HTTPStatus.UNAUTHORIZED: ApiError, HTTPStatus.FORBIDDEN: ApiError}


# ---------------------------------------------------------------------------
# Reading the request body


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _request_json(request: HttpRequest) -> Any:
    """The parsed JSON body, or an HttpError with 415, 413 or 400."""
    if request.content_type != "application/json":
        raise HttpError(
            HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "Send the body as JSON with the header Content-Type: application/json."
        )
    limit = settings.PREDICTOR_API_MAX_BODY_BYTES
    too_large = (
        f"The body is larger than {limit:,} bytes; send at most {MAX_BATCH_RECORDS:,} records per request "
        "or split the batch."
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
    body = request.read(limit + 1)
    if len(body) > limit:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"The body is not valid JSON: {exc}") from exc


def _json_type_errors(record: Any) -> dict[str, list[str]]:
    """A record's JSON type mistakes (numbers sent as text, true as a number...), in the form's own words.

    The form accepts text, as a browser sends it; a JSON client is held to the types the
    OpenAPI document promises. Ranges and choices are left to the form.
    """
    if not isinstance(record, dict):
        return {"__all__": [services.NOT_A_RECORD]}
    errors = {}
    for name, field in PredictionForm.base_fields.items():
        value = record.get(name)
        if value is None:
            continue  # the form reports it as required
        if isinstance(field, forms.ChoiceField):
            ok, message = isinstance(value, str), field.error_messages["invalid_choice"]
        else:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            whole = not isinstance(field, forms.FloatField)  # FloatField is a subclass of IntegerField
            if ok and whole and isinstance(value, float):
                ok = value.is_integer()
            elif ok and not whole and isinstance(value, int):
                ok = abs(value) < FLOAT_LIMIT  # float() of a longer integer raises OverflowError
            message = field.error_messages["invalid"]
        if not ok:
            errors[name] = [str(message) % {"value": value}]
    return errors


def _records_check_types(records: list[Any], *, batch: bool) -> None:
    """Raise for records with JSON type mistakes, naming the form's complaints about the others too."""
    type_errors = [_json_type_errors(record) for record in records]
    if not any(type_errors):
        return
    errors = {}
    for index, (record, mistakes) in enumerate(zip(records, type_errors, strict=True)):
        form_errors = {}
        if isinstance(record, dict):
            try:
                # Without the mistyped values (some would crash the form); their messages replace its "required".
                typed = {name: value for name, value in record.items() if name not in mistakes}
                services.prediction_input_clean(typed)
            except ValidationError as exc:
                form_errors = exc.message_dict
        if merged := {**form_errors, **mistakes}:
            errors[index] = merged
    raise services.PredictionRowsError(errors) if batch else ValidationError(errors[0])


def _dollars(value) -> float | None:
    return None if value is None else float(value)


def _prediction_out(prediction: Prediction) -> dict[str, Any]:
    return {
        "id": prediction.pk,
        "predicted_charges": float(prediction.predicted_charges),
        "predicted_charges_low": _dollars(prediction.predicted_charges_low),
        "predicted_charges_high": _dollars(prediction.predicted_charges_high),
        "model_version": prediction.model_version.name,
        "created_at": prediction.created_at,
        "source": prediction.source,
        **{name: getattr(prediction, name) for name in INPUT_NAMES},
        "extrapolated": selectors.prediction_explain(prediction).extrapolated_names,
    }


# ---------------------------------------------------------------------------
# Operations

_RECORD_REF = {"$ref": REF_TEMPLATE.format(model="PredictionIn")}
_CREATE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _RECORD_REF,
                        {"type": "array", "items": _RECORD_REF, "minItems": 1, "maxItems": MAX_BATCH_RECORDS},
                    ]
                },
                "examples": {
                    "one": {"summary": "One patient", "value": EXAMPLE_RECORD},
                    "batch": {"summary": "A batch of patients", "value": EXAMPLE_BATCH},
                },
            }
        },
    }
}


@api.post(
    "/predictions",
    response={
        HTTPStatus.CREATED: PredictionOut | PredictionBatchOut,
        **ERRORS,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ApiError,
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE: ApiError,
    },
    url_name="api-prediction-list",
    tags=["predictions"],
    summary="Predict and store one patient or a batch",
    description=(
        "Send one JSON object for one prediction, or an array of 1 to "
        f"{MAX_BATCH_RECORDS:,} objects for a batch that is stored all or nothing. Inputs are checked "
        "like the web form: a 400 answer names each bad field and, in a batch, the index of each bad "
        "record, and nothing is stored. A body over the configured size answers 413."
    ),
    openapi_extra=_CREATE_BODY,
)
def prediction_create(request: HttpRequest):
    payload = _request_json(request)
    if isinstance(payload, dict):
        _records_check_types([payload], batch=False)
        prediction = services.prediction_create(
            **{name: payload.get(name) for name in INPUT_NAMES}, source=Prediction.Source.API
        )
        return HTTPStatus.CREATED, _prediction_out(prediction)
    if not isinstance(payload, list) or not 1 <= len(payload) <= MAX_BATCH_RECORDS:
        raise HttpError(
            HTTPStatus.BAD_REQUEST,
            f"Send one JSON object (one patient) or an array of 1 to {MAX_BATCH_RECORDS:,} objects.",
        )
    _records_check_types(payload, batch=True)
    predictions = services.prediction_create_many(rows=payload, source=Prediction.Source.API)
    return HTTPStatus.CREATED, {"predictions": [_prediction_out(prediction) for prediction in predictions]}


@api.get(
    "/predictions",
    response={HTTPStatus.OK: PredictionPage, **HISTORY_ERRORS},
    auth=HISTORY_AUTH,
    url_name="api-prediction-list",
    tags=["history (staff)"],
    summary="List stored predictions (staff)",
    description="Newest first, filtered by creation time, a page at a time; follow `next` for the following page.",
)
def prediction_list(request: HttpRequest, filters: Query[HistoryFilters]):
    _require_history_reader(request)
    since, until = (_aware(value) for value in (filters.since, filters.until))
    window = selectors.prediction_history(since=since, until=until)
    rows = list(window[filters.offset : filters.offset + filters.limit + 1])
    next_url = None
    if len(rows) > filters.limit:
        query = request.GET.copy()
        query["offset"] = filters.offset + filters.limit
        query["limit"] = filters.limit
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return {"predictions": [_prediction_out(row) for row in rows[: filters.limit]], "next": next_url}


@api.get(
    "/predictions/{prediction_id}",
    response={HTTPStatus.OK: PredictionOut, **HISTORY_ERRORS, HTTPStatus.NOT_FOUND: ApiError},
    auth=HISTORY_AUTH,
    url_name="api-prediction-detail",
    tags=["history (staff)"],
    summary="Read one stored prediction (staff)",
)
def prediction_detail(request: HttpRequest, prediction_id: int):
    _require_history_reader(request)
    prediction = selectors.prediction_get(prediction_id=prediction_id)
    if prediction is None:
        raise Http404(f"There is no prediction {prediction_id}.")
    return _prediction_out(prediction)


def _aware(value: datetime | None) -> datetime | None:
    """A parameter time in UTC (PostgreSQL refuses offsets beyond ±15:59); without an offset it is UTC already."""
    if value is None or value.tzinfo is None:
        return value and value.replace(tzinfo=dt_timezone.utc)
    try:
        return value.astimezone(dt_timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable UTC time
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=dt_timezone.utc)
