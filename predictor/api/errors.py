"""The API's one error shape, ``ApiError``, and every exception handler that answers with it."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial
from http import HTTPStatus
from typing import Any

from django.core.exceptions import ValidationError
from django.db import Error as DatabaseDriverError
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Field, NinjaAPI, Schema
from ninja.errors import HttpError, Throttled
from ninja.errors import ValidationError as NinjaValidationError

from .. import services
from ..ml.artifacts import ModelArtifactError
from ..security import access_log, ratelimit

logger = logging.getLogger(__name__)

UNAUTHENTICATED = "Log in as staff or send an API token: Authorization: Bearer TOKEN."
BAD_TOKEN = (
    "The Authorization header does not hold a valid API token (Authorization: Bearer TOKEN); "
    "send a valid one, or none to call as an anonymous client. Nothing was stored."
)


class FieldError(Schema):
    """One problem: which record (in a batch), which input, and what is wrong."""

    index: int | None = Field(
        description="Position of the bad record in the array sent (0-based); null for one record."
    )
    field: str | None = Field(description="The input or parameter at fault; null when it is the record or body itself.")
    message: str


class ApiError(Schema):
    """Every error answer: a summary and, for invalid input, one entry per problem."""

    detail: str
    errors: list[FieldError]


# The error answers every operation documents, and those of the staff-only ones.
ERRORS = {
    HTTPStatus.BAD_REQUEST: ApiError,
    HTTPStatus.TOO_MANY_REQUESTS: ApiError,
    HTTPStatus.SERVICE_UNAVAILABLE: ApiError,
}
HISTORY_ERRORS = {**ERRORS, HTTPStatus.UNAUTHORIZED: ApiError, HTTPStatus.FORBIDDEN: ApiError}


def _answer(api: NinjaAPI, request: HttpRequest, status: int, detail: str, errors: Sequence[dict] = ()) -> HttpResponse:
    """The one place an error answer is made: ``{"detail": ..., "errors": [...]}``."""
    return api.create_response(request, {"detail": detail, "errors": list(errors)}, status=status)


def _problem(index: int | None, field: str | None, message: str) -> dict[str, Any]:
    return {"index": index, "field": field, "message": message}


def _index_and_field(where: tuple) -> tuple[int | None, str | None]:
    """Where in the body a problem is: ``("record", field)``, or ``("batch", index)`` with the field if any;
    in an object body (the forecasts'), its keys joined by dots, with an array's index apart:
    ``("records", 3, "age")`` is record 3's ``age``, ``("filter", "since")`` is ``filter.since``."""
    kind, *rest = where
    if kind in ("record", "batch"):
        index = rest.pop(0) if kind == "batch" else None
        return index, (str(rest[0]) if rest else None)
    positions = [position for position, part in enumerate(where) if isinstance(part, int)]
    if positions:
        after = [str(part) for part in where[positions[0] + 1 :]]
        return where[positions[0]], (".".join(after) or None)
    return None, ".".join(str(part) for part in where)


def _body_invalid(api: NinjaAPI, request: HttpRequest, body_errors: list[dict]) -> HttpResponse:
    """A body the schema refused: each problem in the form's words, by record index (in a batch) and input.

    Locations read ``("body", <parameter>, "record" or "batch", ...)``; a body of neither shape
    stops at the parameter and is refused as a whole.
    """
    if len(body_errors[0]["loc"]) < 3:
        return _answer(api, request, HTTPStatus.BAD_REQUEST, body_errors[0]["msg"])
    problems = [_problem(*_index_and_field(error["loc"][2:]), error["msg"]) for error in body_errors]
    if problems[0]["index"] is None:
        detail = "The input is not valid; nothing was stored."
    else:
        count = len({problem["index"] for problem in problems})
        detail = f"{count:,} record{'s are' if count != 1 else ' is'} not valid; nothing was stored."
    return _answer(api, request, HTTPStatus.BAD_REQUEST, detail, problems)


def _request_invalid(api: NinjaAPI, request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    body_errors = [error for error in exc.errors if error["loc"][:1] == ("body",)]
    if body_errors:
        return _body_invalid(api, request, body_errors)
    errors = [_problem(None, str(error["loc"][-1]) if error.get("loc") else None, error["msg"]) for error in exc.errors]
    return _answer(api, request, HTTPStatus.BAD_REQUEST, "The parameters are not valid.", errors)


def _input_invalid(api: NinjaAPI, request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """A service's ValidationError (the schema checks the input first, so this is a last line)."""
    message_dict = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    errors = [
        _problem(None, None if field == "__all__" else field, message)
        for field, messages in message_dict.items()
        for message in messages
    ]
    return _answer(api, request, HTTPStatus.BAD_REQUEST, "The input is not valid; nothing was stored.", errors)


def _http_error(api: NinjaAPI, request: HttpRequest, exc: HttpError) -> HttpResponse:
    """415, 413 and malformed JSON from the body reader; 401 and 403 from the history's authentication."""
    if exc.status_code != HTTPStatus.UNAUTHORIZED:
        return _answer(api, request, exc.status_code, str(exc))
    # ninja's own refusal says only "Unauthorized"; a bad token on an operation open to anyone says more.
    detail = UNAUTHENTICATED if str(exc) == "Unauthorized" else str(exc)
    response = _answer(api, request, exc.status_code, detail)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _throttled(api: NinjaAPI, request: HttpRequest, exc: Throttled) -> HttpResponse:
    return rate_limit_refused(api, request)


def _rate_limited(api: NinjaAPI, request: HttpRequest, exc: ratelimit.RateLimited) -> HttpResponse:
    request.rate_limit_refusal = exc
    return rate_limit_refused(api, request)


def rate_limit_refused(api: NinjaAPI, request: HttpRequest) -> HttpResponse:
    """Over a rate limit (``views.RateLimitThrottle`` keeps why on the request): 429 with Retry-After; or the store is down."""
    refusal = getattr(request, "rate_limit_refusal", None)
    if isinstance(refusal, DatabaseDriverError):
        return _database_unavailable(api, request, refusal)
    retry_after = refusal.retry_after if isinstance(refusal, ratelimit.RateLimited) else 1
    detail = (
        f"Too many requests: the rate limit was reached; try again in {retry_after} second"
        f"{'s' if retry_after != 1 else ''}. Nothing was stored."
    )
    response = _answer(api, request, HTTPStatus.TOO_MANY_REQUESTS, detail)
    response["Retry-After"] = str(retry_after)
    return response


def _not_found(api: NinjaAPI, request: HttpRequest, exc: Http404) -> HttpResponse:
    return _answer(api, request, HTTPStatus.NOT_FOUND, str(exc) or "Not found.")


# django.db.Error, not just DatabaseError: a lost connection raises InterfaceError.
def _database_unavailable(api: NinjaAPI, request: HttpRequest, exc: DatabaseDriverError) -> HttpResponse:
    logger.exception("The API could not reach the database")
    return _answer(api, request, HTTPStatus.SERVICE_UNAVAILABLE, "The database is not available; nothing was stored.")


def _model_unavailable(api: NinjaAPI, request: HttpRequest, exc: ModelArtifactError) -> HttpResponse:
    logger.exception("The API could not load the model")
    return _answer(api, request, HTTPStatus.SERVICE_UNAVAILABLE, "The prediction model is not available right now.")


def _access_log_unavailable(api: NinjaAPI, request: HttpRequest, exc: access_log.AccessLogUnavailable) -> HttpResponse:
    return _answer(api, request, HTTPStatus.SERVICE_UNAVAILABLE, str(exc))


PAUSED = (
    "The service is paused by its staff: no prediction is made or stored until they resume it. "
    "Nothing was stored; stored predictions can still be read."
)


def _paused(api: NinjaAPI, request: HttpRequest, exc: Exception) -> HttpResponse:
    return _answer(api, request, HTTPStatus.SERVICE_UNAVAILABLE, PAUSED)


def _prediction_unavailable(
    api: NinjaAPI, request: HttpRequest, exc: services.PredictionUnavailable
) -> HttpResponse:
    handler = {"model": _model_unavailable, "paused": _paused}.get(exc.kind, _database_unavailable)
    return handler(api, request, exc.__cause__)


HANDLERS: dict[type[Exception], Callable[..., HttpResponse]] = {
    NinjaValidationError: _request_invalid,
    ValidationError: _input_invalid,
    HttpError: _http_error,
    Throttled: _throttled,
    ratelimit.RateLimited: _rate_limited,
    Http404: _not_found,
    DatabaseDriverError: _database_unavailable,
    ModelArtifactError: _model_unavailable,
    services.PredictionUnavailable: _prediction_unavailable,
    access_log.AccessLogUnavailable: _access_log_unavailable,
}


def exception_handlers_add(api: NinjaAPI) -> None:
    """Make every error of ``api`` answer with ApiError's shape."""
    for exception, handler in HANDLERS.items():
        api.add_exception_handler(exception, partial(handler, api))
