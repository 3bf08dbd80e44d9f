"""How a JSON request body is read: declared as JSON, within the size limit, strict JSON; then the schema validates it.

django-ninja reads and validates a body parameter itself, but its reader takes in the whole
body before anything could look at its size, treats an empty body as no body, and answers
every parse error with the same 400. ``JsonBody`` keeps ninja's validation and its OpenAPI
request body (derived from the parameter's type) and replaces only the reading: 415 for
another content type, 413 for a body over ``PREDICTOR_API_MAX_BODY_BYTES`` (by its declared
length before reading, then by what arrives), and 400 for malformed JSON, NaN and Infinity.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.params.models import Body, BodyModel

from .schemas import MAX_BATCH_RECORDS


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def request_json(request: HttpRequest) -> Any:
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
    # read(), not .body: .body would refuse what is over DATA_UPLOAD_MAX_MEMORY_SIZE with a bare 400.
    body = request.read(limit + 1)
    if len(body) > limit:
        raise HttpError(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, too_large)
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise HttpError(HTTPStatus.BAD_REQUEST, f"The body is not valid JSON: {exc}") from exc


class _JsonBodyModel(BodyModel):
    @classmethod
    def get_request_data(cls, request: HttpRequest, api: Any, path_params: dict) -> dict:
        # The whole body is the one parameter, whatever its JSON type.
        return {cls.__read_from_single_attr__: request_json(request)}


class JsonBody(Body):
    """A body parameter read by ``request_json``: ``records: Annotated[SomeType, JsonBody(...)]``."""

    _model = _JsonBodyModel

    @classmethod
    def _param_source(cls) -> str:
        return "body"


def records_allowed(request: HttpRequest) -> int:
    """How many records one request may send: ``PREDICTOR_API_ANON_MAX_RECORDS`` without a token, else the API's limit."""
    if getattr(request, "auth", None) is not None and request.auth.is_authenticated:
        return MAX_BATCH_RECORDS
    return settings.PREDICTOR_API_ANON_MAX_RECORDS


def _records_count_check(request: HttpRequest, data: Any) -> None:
    allowed = records_allowed(request)
    if isinstance(data, list) and allowed < len(data) and allowed < MAX_BATCH_RECORDS:
        raise HttpError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"Without an API token a request may send at most {allowed:,} records; this one sent {len(data):,}. "
            f"Send it with a staff API token (Authorization: Bearer TOKEN) for up to {MAX_BATCH_RECORDS:,}, or split "
            "it. Nothing was stored.",
        )


class _RecordsBodyModel(BodyModel):
    @classmethod
    def get_request_data(cls, request: HttpRequest, api: Any, path_params: dict) -> dict:
        data = request_json(request)
        # Counted before any record is validated, so an oversized anonymous batch costs nothing more.
        _records_count_check(request, data)
        return {cls.__read_from_single_attr__: data}


class RecordsBody(JsonBody):
    """``JsonBody`` for records to predict: an anonymous caller may send only ``PREDICTOR_API_ANON_MAX_RECORDS``
    of them (413 above that, saying a token is needed); with a token, up to the API's limit."""

    _model = _RecordsBodyModel
