"""The API's schemas. The input is PredictionForm's fields: read from them and checked by them, once.

Each input of ``PredictionIn`` is validated by one function: the JSON type the document
promises (a number sent as text, ``true`` as a number or a number too large for a float is
refused), then the form field's own ``clean``, so every message is the form's. Its type,
bounds, choices and description are read from the same field (which takes them from
``forms.LIMITS`` and the model's choices), never written twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import Annotated, Any, Literal

from django import forms
from django.core.exceptions import ValidationError
from ninja import Field, Schema
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Discriminator,
    PlainValidator,
    Tag,
    create_model,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .. import explanations, services
from ..examples import SAMPLE_PATIENT, SECOND_PATIENT
from ..forms import PredictionForm
from ..models import ChargeOverride, Prediction

MAX_BATCH_RECORDS = 10_000
MAX_PAGE_SIZE = 1000
# Far beyond any real history; it keeps OFFSET inside PostgreSQL's bigint.
MAX_OFFSET = 2**31 - 1
INPUT_NAMES = tuple(PredictionForm.base_fields)
# float() of a longer integer raises OverflowError.
FLOAT_LIMIT = 10**308
BODY_SHAPE = f"Send one JSON object (one patient) or an array of 1 to {MAX_BATCH_RECORDS:,} objects."

# ---------------------------------------------------------------------------
# The inputs, from the form's fields


def _json_type(field: forms.Field) -> Any:
    """The JSON type of a form field's value: one of its choices, a whole number or a number."""
    if isinstance(field, forms.ChoiceField):
        return Literal[tuple(str(value) for value, _ in field.choices if value != "")]
    # Django's FloatField is a subclass of IntegerField, so ask about floats first.
    return float if isinstance(field, forms.FloatField) else int


def _json_type_ok(field: forms.Field, value: Any) -> bool:
    """Whether a JSON value has the type the document promises; the form itself accepts text, as browsers send."""
    if isinstance(field, forms.ChoiceField):
        return isinstance(value, str)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(field, forms.FloatField):
        return isinstance(value, float) or abs(value) < FLOAT_LIMIT
    return isinstance(value, int) or value.is_integer()


def _plain_clean(field: forms.Field) -> Callable[[Any], Any]:
    """What the form field's ``clean`` returns for a plain JSON value it accepts (a whole number, a finite
    number or one of the choices, within the field's bounds), without its machinery; ``_NOT_PLAIN`` for any
    other value, which goes through ``clean``. tests/api/test_schemas.py proves it equal to ``clean``."""
    if isinstance(field, forms.ChoiceField):
        words = frozenset(str(value) for value, _ in field.choices if value != "")
        return lambda value: value if type(value) is str and value in words else _NOT_PLAIN
    low, high = field.min_value, field.max_value
    if isinstance(field, forms.FloatField):
        # type() is, not isinstance: bool is an int; NaN and infinities fail the comparisons.
        return lambda value: float(value) if type(value) in (float, int) and low <= value <= high else _NOT_PLAIN
    return lambda value: value if type(value) is int and low <= value <= high else _NOT_PLAIN


_NOT_PLAIN = object()


def _form_field_clean(field: forms.Field) -> Callable[[Any], Any]:
    """The one check of an input: its JSON type, then the form field's ``clean``; either refuses in the form's words."""
    plain = _plain_clean(field)

    def clean(value: Any) -> Any:
        cleaned = plain(value)
        if cleaned is not _NOT_PLAIN:
            return cleaned
        try:
            if value is not None and not _json_type_ok(field, value):
                code = "invalid_choice" if isinstance(field, forms.ChoiceField) else "invalid"
                raise ValidationError(field.error_messages[code], code=code, params={"value": value})
            return field.clean(value)
        except ValidationError as exc:
            raise PydanticCustomError("form_field", "{message}", {"message": " ".join(exc.messages)}) from None

    return clean


def _description(field: forms.Field) -> str:
    return ": ".join(part for part in (str(field.label), str(field.help_text or "")) if part)


def _input(name: str) -> tuple[Any, Any]:
    """An input's annotation and Field: validated by the form field, documented with its type and bounds."""
    field = PredictionForm.base_fields[name]
    documented = _json_type(field)
    if not isinstance(field, forms.ChoiceField):
        documented = Annotated[documented, Field(ge=field.min_value, le=field.max_value)]
    validator = PlainValidator(_form_field_clean(field), json_schema_input_type=documented)
    return (
        Annotated[_json_type(field), validator],
        Field(description=_description(field), examples=[SAMPLE_PATIENT[name]]),
    )


class _Record(BaseModel):
    @model_validator(mode="before")
    @classmethod
    def _absent_is_null(cls, data: Any) -> Any:
        """A record is an object; an absent input is null, which the form calls required."""
        if not isinstance(data, dict):
            raise PydanticCustomError("not_a_record", services.NOT_A_RECORD)
        return {name: data.get(name) for name in INPUT_NAMES}


PredictionIn = create_model(
    "PredictionIn",
    __base__=_Record,
    __doc__="One patient: the six inputs, with the ranges and choices the web form accepts. Other keys are ignored.",
    **{name: _input(name) for name in INPUT_NAMES},
)


def _body_kind(value: Any) -> str | None:
    """Which shape a body has; anything else is refused before any record is looked at."""
    if isinstance(value, dict):
        return "record"
    if isinstance(value, list) and 1 <= len(value) <= MAX_BATCH_RECORDS:
        return "batch"
    return None


# The body of POST /predictions: one record, or a batch of 1 to MAX_BATCH_RECORDS stored all or nothing.
PredictionCreateIn = Annotated[
    Annotated[PredictionIn, Tag("record")]
    | Annotated[list[PredictionIn], Tag("batch"), Field(min_length=1, max_length=MAX_BATCH_RECORDS)],
    Discriminator(_body_kind, custom_error_type="body_shape", custom_error_message=BODY_SHAPE),
    Field(examples=[SAMPLE_PATIENT, [SAMPLE_PATIENT, SECOND_PATIENT]]),
]

# ---------------------------------------------------------------------------
# Stored predictions

# Stored rows echo their inputs without the range checks: a row stays readable if the ranges change later.
_PredictionInputsOut = create_model(
    "_PredictionInputsOut",
    __base__=Schema,
    **{
        name: (_json_type(field), Field(description=_description(field), examples=[SAMPLE_PATIENT[name]]))
        for name, field in PredictionForm.base_fields.items()
    },
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
    anonymised_at: datetime | None = Field(
        None,
        description="When the retention job anonymised this prediction (null: its inputs are as entered). Then age, "
        "bmi and children hold their band's representative value, created_at the day, and no explanation is given.",
    )

    @staticmethod
    def resolve_model_version(prediction: Prediction) -> str:
        return prediction.model_version.name

    @staticmethod
    def resolve_extrapolated(prediction: Prediction) -> list[str]:
        return explanations.prediction_extrapolated(prediction)


class PredictionExplainedOut(PredictionOut):
    """A stored prediction with what drives it, answered when asked with ``?explain=true``."""

    base_value: float = Field(
        description="The mean estimate of the model's background sample of training patients (a typical patient), in US dollars."
    )
    contributions: dict[str, float] = Field(
        description="Each input's exact Shapley value in US dollars against that background: base_value plus "
        "these equals predicted_charges (within a few cents once each is rounded to the cent).",
        examples=[{"age": -5245.18, "sex": 230.88, "bmi": -5545.17, "children": -693.19, "smoker": 15667.68, "region": -354.78}],
    )


class OverrideOut(Schema):
    """A reviewed charge staff recorded over a prediction's estimate (the estimate itself never changes)."""

    id: int
    prediction_id: int
    previous_charges: float = Field(description="The figure in force before: the model's estimate, or the reviewed charge before.")
    reviewed_charges: float = Field(description="The reviewed yearly charge in US dollars, as staff decided it.")
    reason: str = Field(description="Why staff overrode the figure.")
    created_at: datetime
    username: str = Field(description="The staff user who recorded it.")
    channel: Literal[tuple(ChargeOverride.Channel.values)] = Field(description="Where it was recorded: the admin or the API.")


class _ReviewedOut(Schema):
    """What staff decided over the model's estimate: ``predicted_charges`` stays the model's own figure."""

    reviewed_charges: float | None = Field(
        description="The reviewed charge in force (the latest override), in US dollars; null while the model's estimate stands."
    )
    overrides: list[OverrideOut] = Field(description="Every override of this prediction, newest first (append-only).")

    @staticmethod
    def resolve_reviewed_charges(prediction: Prediction) -> float | None:
        latest = next(iter(prediction.overrides.all()), None)  # prefetched, newest first
        return None if latest is None else latest.reviewed_charges


class PredictionReviewedOut(_ReviewedOut, PredictionOut):
    """One stored prediction as the history reads it: the model's estimate and, apart, any reviewed charge."""


class PredictionReviewedExplainedOut(_ReviewedOut, PredictionExplainedOut):
    """One stored prediction with what drives its estimate, and any reviewed charge."""


class PredictionBatchOut(Schema):
    """The predictions of a batch, in the order of the records sent."""

    predictions: list[PredictionOut]


class PredictionPage(Schema):
    """One page of the history, newest first; ``next`` is the URL of the following page, or null."""

    predictions: list[PredictionOut]
    next: str | None = Field(description="URL of the next page, or null on the last page.")


# ---------------------------------------------------------------------------
# The history's query parameters

DATE_TIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _date_time_text(value: Any) -> Any:
    """Refuse what pydantic would otherwise read as a date-time: numbers (Unix times) and bare dates."""
    if not (isinstance(value, str) and DATE_TIME_START.match(value)):
        raise ValueError("Enter a date and time like 2025-01-31T09:00:00Z (ISO 8601; without an offset, UTC).")
    return value


def _utc(value: datetime) -> datetime:
    """A time in UTC (PostgreSQL refuses offsets beyond ±15:59); without an offset it is UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt_timezone.utc)
    try:
        return value.astimezone(dt_timezone.utc)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before the first representable UTC time
        return (datetime.min if value.year == 1 else datetime.max).replace(tzinfo=dt_timezone.utc)


DateTimeParameter = Annotated[datetime, BeforeValidator(_date_time_text), AfterValidator(_utc)]


class HistoryFilters(Schema):
    since: DateTimeParameter | None = Field(None, description="Only predictions made at or after this time (ISO 8601).")
    until: DateTimeParameter | None = Field(None, description="Only predictions made before this time (ISO 8601).")
    limit: int = Field(100, ge=1, le=MAX_PAGE_SIZE, description="Predictions per page.")
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description="How many predictions to skip.")
