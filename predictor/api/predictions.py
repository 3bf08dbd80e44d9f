"""The predictions resource: anyone creates predictions (one or many); staff read the history.

Each operation is thin: django-ninja has validated its input with the schemas by the time
it runs, so it calls a service or selector and returns what the response schema shows.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated

from django.conf import settings
from django.db.models import prefetch_related_objects
from django.http import Http404, HttpRequest, HttpResponse
from ninja import Query, Router
from ninja.decorators import decorate_view

from .. import explanations, selectors, services
from ..models import Prediction
from ..security import access_log
from .answers import RENDERER, batch_answer
from .auth import HISTORY_AUTH, ApiTokenAuth, history_reader_require
from .body import RecordsBody
from .errors import ERRORS, HISTORY_ERRORS, ApiError
from .schemas import (
    MAX_BATCH_RECORDS,
    HistoryFilters,
    PredictionBatchOut,
    PredictionCreateIn,
    PredictionExplainedOut,
    PredictionOut,
    PredictionPage,
    PredictionReviewedExplainedOut,
    PredictionReviewedOut,
)
from .throttles import PredictionRateLimitThrottle, counted

router = Router()

# ---------------------------------------------------------------------------
# ?explain=true: what drives one prediction, computed on demand (nothing more is stored)

EXPLAIN_DESCRIPTION = (
    " With `?explain=true` one prediction's answer also holds `base_value` and `contributions` (each input's "
    "exact Shapley value in dollars, computed on demand, about 60 ms; nothing more is stored); they are absent "
    "when the model version cannot explain (no background sample) or the prediction was anonymised. A batch is answered without them."
)


def _explained(prediction: Prediction) -> Prediction:
    drivers = explanations.prediction_drivers(prediction)
    if drivers is not None:
        prediction.base_value = round(drivers.base_value, 2)
        prediction.contributions = drivers.as_dict()
    return prediction


# ---------------------------------------------------------------------------
# Operations. Their operation ids are the ones version 1 was published with.


@router.post(
    "/predictions",
    response={
        HTTPStatus.CREATED: PredictionExplainedOut | PredictionOut | PredictionBatchOut,
        **ERRORS,
        HTTPStatus.UNAUTHORIZED: ApiError,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ApiError,
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE: ApiError,
    },
    auth=[ApiTokenAuth(optional=True)],
    throttle=[PredictionRateLimitThrottle()],
    # Anyone may call it: the token is optional (the empty requirement), and raises the limits.
    openapi_extra={"security": [{}]},
    url_name="api-prediction-list",
    operation_id="predictor_api_prediction_create",
    tags=["predictions"],
    summary="Predict and store one patient or a batch",
    description=(
        "Send one JSON object for one prediction, or an array of 1 to "
        f"{MAX_BATCH_RECORDS:,} objects for a batch that is stored all or nothing. Inputs are checked "
        "like the web form: a 400 answer names each bad field and, in a batch, the index of each bad "
        "record, and nothing is stored. A body over the configured size answers 413."
        " Without a token (`Authorization: Bearer TOKEN`) a batch may hold at most "
        f"{settings.PREDICTOR_API_ANON_MAX_RECORDS:,} records (more answers 413) and requests count against the "
        "client address's rate limit; with one, against the token's. Over a limit: 429 with Retry-After; "
        "a token that is not valid: 401."
        + EXPLAIN_DESCRIPTION
    ),
)
@decorate_view(counted)
def predictions_post(
    request: HttpRequest, records: Annotated[PredictionCreateIn, RecordsBody(...)], explain: bool = False
):
    if isinstance(records, list):
        request.rate_limit_charge.check()  # before the work: over the limit, the batch is not predicted
        stored = services.prediction_create_many_cleaned(
            columns=services.prediction_columns([record.model_dump() for record in records]), source=Prediction.Source.API
        )
        return batch_answer(request, stored)  # PredictionBatchOut's JSON, from the columns
    prediction = services.prediction_create_cleaned(
        inputs=records.model_dump(), source=Prediction.Source.API, rate_limit=request.rate_limit_charge
    )
    if explain:
        return HTTPStatus.CREATED, _explained(prediction)
    # Validated by its one schema and rendered as the API renders: ninja would try the
    # operation's three answer schemas in turn, for the same document.
    return HttpResponse(
        RENDERER.render(request, PredictionOut.from_orm(prediction), response_status=HTTPStatus.CREATED),
        status=HTTPStatus.CREATED, content_type=f"{RENDERER.media_type}; charset={RENDERER.charset}",
    )


@router.get(
    "/predictions",
    response={HTTPStatus.OK: PredictionPage, **HISTORY_ERRORS},
    auth=HISTORY_AUTH,
    url_name="api-prediction-list",
    operation_id="predictor_api_prediction_list",
    tags=["history (staff)"],
    summary="List stored predictions (staff)",
    description="Newest first, filtered by creation time, a page at a time; follow `next` for the following page.",
)
def predictions_get(request: HttpRequest, filters: Query[HistoryFilters]):
    history_reader_require(request)
    window = selectors.prediction_history(since=filters.since, until=filters.until)
    rows = list(window[filters.offset : filters.offset + filters.limit + 1])
    next_url = None
    if len(rows) > filters.limit:
        query = request.GET.copy()
        query["offset"] = filters.offset + filters.limit
        query["limit"] = filters.limit
        next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    rows = rows[: filters.limit]
    access_log.access_log_record(
        request=request, action=access_log.Action.HISTORY_LIST, filters=filters.model_dump(), row_count=len(rows)
    )
    return {"predictions": rows, "next": next_url}


@router.get(
    "/predictions/{prediction_id}",
    response={HTTPStatus.OK: PredictionReviewedExplainedOut | PredictionReviewedOut, **HISTORY_ERRORS, HTTPStatus.NOT_FOUND: ApiError},
    auth=HISTORY_AUTH,
    url_name="api-prediction-detail",
    operation_id="predictor_api_prediction_detail",
    tags=["history (staff)"],
    summary="Read one stored prediction (staff)",
    description=(
        "One stored prediction by id: `predicted_charges` is the model's own estimate, never changed; `reviewed_charges` is "
        "the charge staff recorded over it (null while the estimate stands), and `overrides` every override, newest first."
        + EXPLAIN_DESCRIPTION
    ),
)
def prediction_get_one(request: HttpRequest, prediction_id: int, explain: bool = False):
    history_reader_require(request)
    prediction = selectors.prediction_get(prediction_id=prediction_id)
    if prediction is None:
        raise Http404(f"There is no prediction {prediction_id}.")
    prefetch_related_objects([prediction], "overrides")
    answer = _explained(prediction) if explain else prediction
    access_log.access_log_record(
        request=request, action=access_log.Action.HISTORY_DETAIL,
        filters={"prediction": prediction_id, "explain": explain}, row_count=1,
    )
    return answer
