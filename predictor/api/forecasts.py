"""``POST /api/v1/forecasts`` (staff): the forecast of a group's total charges, from records or a filter of stored ones.

The records are validated once, by the form's rules (``PredictionIn``), and nothing is stored;
the answer is ``forecast_as_dict``, the same object ``manage.py forecast --json`` prints,
so the two give the same figures for the same seed.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from ..examples import SAMPLE_PATIENT, SECOND_PATIENT
from ..forecasts.cohorts import StoredFilter
from ..forecasts.presentation import forecast_as_dict
from ..forecasts.services import (
    DEFAULT_SEED,
    DIMENSIONS,
    ForecastError,
    ForecastNotFound,
    forecast_from_records,
    forecast_from_stored,
)
from ..models import Prediction
from ..security import access_log
from .auth import HISTORY_AUTH, history_reader_require
from .body import JsonBody
from .errors import HISTORY_ERRORS, ApiError
from .schemas import MAX_BATCH_RECORDS, DateTimeParameter, PredictionIn

router = Router()

MAX_SEED = 2**32 - 1
# PostgreSQL cannot take a NUL character in text: refused as bad input (400), not a server error.
NO_NUL = r"^[^\x00]*$"
EITHER = "Send either records (an array of 1 to {limit:,} patients) or filter (which stored predictions), not both."


# ---------------------------------------------------------------------------
# The request


def _whole_number(value: Any) -> Any:
    """A JSON integer (2.0 is one too); not text, not true or false, not 2.5."""
    if isinstance(value, bool) or not isinstance(value, int | float) or (isinstance(value, float) and not value.is_integer()):
        raise PydanticCustomError("whole_number", "Enter a whole number.")
    return int(value)


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
# The bounds before the validator, so that they apply to the integer (and the document says minimum 1).
BatchId = Annotated[int, Field(ge=1, le=2**63 - 1), BeforeValidator(_whole_number)]


class _Object(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, data: Any) -> Any:
        """Only a JSON object."""
        if not isinstance(data, dict):
            raise PydanticCustomError("not_an_object", "Send a JSON object here.")
        return data


class ForecastFilterIn(_Object):
    """Which stored predictions form the cohort: every condition given must hold (none: all of them).
    Other keys are refused, so that a misspelt condition does not silently select everyone."""

    model_config = ConfigDict(extra="forbid")

    since: DateTimeParameter | None = Field(None, description="Made at or after this time (ISO 8601; without an offset, UTC).")
    until: DateTimeParameter | None = Field(None, description="Made before this time (ISO 8601).")
    region: Literal[tuple(Prediction.Region.values)] | None = None
    smoker: Literal[tuple(Prediction.Smoker.values)] | None = None
    source: Literal[tuple(Prediction.Source.values)] | None = Field(None, description="Where the prediction was requested.")
    batch: BatchId | None = Field(None, description="Only the rows of this batch (its id).")
    model_version: str | None = Field(
        None, max_length=100, pattern=NO_NUL, description="Only predictions made by this model version."
    )


class ForecastIn(_Object):
    """The cohort (records or a filter, exactly one), the seed of the draws of the total, and optionally the
    forecasting model. Other keys are refused."""

    # Exactly one of records and filter, neither null (a default is not validated, so absent means None).
    model_config = ConfigDict(extra="forbid", json_schema_extra={"oneOf": [{"required": ["records"]}, {"required": ["filter"]}]})

    records: list[PredictionIn] = Field(
        None, min_length=1, max_length=MAX_BATCH_RECORDS,
        description="Patients to forecast, checked like the web form (nothing is stored).",
    )
    filter: ForecastFilterIn = Field(None, description="Stored predictions to forecast, re-priced by the forecasting model.")
    seed: WholeNumber = Field(DEFAULT_SEED, ge=0, le=MAX_SEED, description="Seed of the 10,000 draws of the total.")
    model: str | None = Field(
        None, max_length=100, pattern=NO_NUL, description="Forecast with this model version instead of the active one."
    )

    @model_validator(mode="after")
    def _one_cohort(self):
        if (self.records is None) == (self.filter is None):
            raise PydanticCustomError("one_cohort", EITHER.format(limit=MAX_BATCH_RECORDS))
        return self


# ---------------------------------------------------------------------------
# The answer


class ForecastRanges(Schema):
    fifty: list[float] = Field(alias="50", min_length=2, max_length=2, description="The 50% range [low, high]: quartiles.")
    eighty: list[float] = Field(alias="80", min_length=2, max_length=2, description="The 80% range [low, high].")
    ninety: list[float] = Field(alias="90", min_length=2, max_length=2, description="The 90% range [low, high].")


class ForecastFigures(Schema):
    patients: int
    expected_total: float = Field(description="The expected total yearly charges, in US dollars.")
    median_total: float
    ranges: ForecastRanges = Field(description="Central ranges the total falls in with probability 50%, 80% and 90%.")
    point_sum: float = Field(description="The sum of the served per-patient estimates (below the expected total: charges are skewed).")
    naive_interval_sum: list[float] = Field(
        min_length=2, max_length=2,
        description="The sum of the patients' 90% intervals [low, high]: shown to compare, not a range for the total.",
    )
    extrapolated: int = Field(description="Patients outside the model's training ranges (their estimates are extrapolations).")


class ForecastBreakdownRow(ForecastFigures):
    dimension: Literal[DIMENSIONS]
    value: str = Field(description="The region, smoker (yes/no), sex, age band (18-29 ... 65+) or month (YYYY-MM).")


class ForecastHistogram(Schema):
    edges: list[float]
    counts: list[int]


class ForecastSimulation(Schema):
    """The seeded draws of the total (what the staff page's chart shows)."""

    draws: int
    mean: float
    ranges: ForecastRanges
    histogram: ForecastHistogram


class ForecastOut(ForecastFigures):
    """A cohort's forecast: its total's figures, the breakdown, and the seeded draws."""

    cohort: str = Field(description="Which patients were forecast.")
    model_version: str = Field(description="The model version that forecast.")
    seed: int
    breakdown: list[ForecastBreakdownRow]
    simulation: ForecastSimulation


EXAMPLE = {"records": [SAMPLE_PATIENT, SECOND_PATIENT], "seed": 0}
FILTER_EXAMPLE = {"filter": {"since": "2026-11-01T00:00:00Z", "until": "2026-12-01T00:00:00Z", "region": "southeast"}}


@router.post(
    "/forecasts",
    response={
        HTTPStatus.OK: ForecastOut,
        **HISTORY_ERRORS,
        HTTPStatus.NOT_FOUND: ApiError,
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE: ApiError,
        HTTPStatus.UNSUPPORTED_MEDIA_TYPE: ApiError,
    },
    auth=HISTORY_AUTH,
    by_alias=True,
    url_name="api-forecast",
    operation_id="predictor_api_forecast_create",
    tags=["forecasts (staff)"],
    summary="Forecast a group's total yearly charges (staff)",
    description=(
        "The expected total, the median, and the 50%, 80% and 90% ranges of the total yearly charges of a "
        f"group of patients: `records` (1 to {MAX_BATCH_RECORDS:,} patients, checked like the web form) or "
        "`filter` (stored predictions, re-priced by the forecasting model), broken down by region, smoker, "
        "sex, age band and, for stored predictions, month. Computed exactly from the model's predictive "
        "distribution (residuals and model error); `seed` fixes the 10,000 draws summarised under "
        "`simulation`. Nothing is stored. A filter that selects nobody, or an unknown forecasting model, "
        "answers 404; a forecasting model without a predictive distribution 400, naming one that has one."
    ),
    openapi_extra={"requestBody": {"content": {"application/json": {"examples": {
        "records": {"value": EXAMPLE}, "filter": {"value": FILTER_EXAMPLE},
    }}}}},
)
def forecasts_post(request: HttpRequest, payload: Annotated[ForecastIn, JsonBody(...)]) -> Any:
    history_reader_require(request)
    try:
        if payload.records is not None:
            forecast = forecast_from_records(
                [record.model_dump() for record in payload.records], seed=payload.seed, model=payload.model
            )
        else:
            forecast = forecast_from_stored(
                StoredFilter(**payload.filter.model_dump()), seed=payload.seed, model=payload.model
            )
    except ForecastNotFound as exc:
        raise HttpError(HTTPStatus.NOT_FOUND, str(exc)) from exc
    except ForecastError as exc:
        raise HttpError(HTTPStatus.BAD_REQUEST, str(exc)) from exc
    if payload.records is not None:
        action, cohort = access_log.Action.FORECAST_FILE, {"records": len(payload.records)}
    else:
        action, cohort = access_log.Action.FORECAST_STORED, {"filter": payload.filter.model_dump(exclude_none=True)}
    access_log.access_log_record(
        request=request, action=action, row_count=forecast.patients,
        filters={**cohort, "seed": payload.seed, "model": payload.model},
    )
    return forecast_as_dict(forecast)
