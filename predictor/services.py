"""Writes: the one place a prediction is made and stored, for the form, the API, the admin and the commands."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import Error as DatabaseDriverError
from django.db import connection, transaction
from django.utils import timezone

from . import pg_copy, serving
from .forms import PredictionForm
from .ml.artifacts import ModelArtifactError
from .ml.predict import predict_charges_with_interval
from .models import Batch, Prediction
from .security import ratelimit

CENT = Decimal("0.01")
NOT_A_RECORD = "Each row must be a record with the fields age, sex, bmi, children, smoker and region."
NO_ROWS = "There are no rows to predict."
# Progress is reported every this many rows, so a callback costs nothing measurable.
PROGRESS_EVERY = 1000

Progress = Callable[[str, int], None]


class PredictionUnavailable(Exception):
    """The database or the model could not make or store a prediction right now; nothing was stored.

    ``kind`` is ``"database"`` or ``"model"``; the original error is the ``__cause__``.
    """

    def __init__(self, kind: str, detail: str):
        self.kind = kind
        super().__init__(f"the {kind} is not available: {detail}")


@contextmanager
def _unavailable_as_error() -> Iterator[None]:
    # django.db.Error, not just DatabaseError: a lost connection raises InterfaceError.
    try:
        yield
    except ModelArtifactError as exc:
        raise PredictionUnavailable("model", str(exc)) from exc
    except DatabaseDriverError as exc:
        raise PredictionUnavailable("database", str(exc)) from exc


# ---------------------------------------------------------------------------
# Input cleaning, with PredictionForm's fields

# Cleaned one by one: exactly what binding the form does (it has no form-wide clean), without
# building a form per row, which costs most of a batch's time.
_INPUT_FIELDS = tuple(PredictionForm.base_fields.items())


def _input_clean(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, field in _INPUT_FIELDS:
        try:
            cleaned[name] = field.clean(data.get(name))
        except ValidationError as exc:
            errors[name] = exc.messages
    return cleaned, errors


def prediction_input_clean(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate raw inputs with PredictionForm's fields; raise ValidationError naming each bad field."""
    cleaned, errors = _input_clean(data)
    if errors:
        raise ValidationError(errors)
    return cleaned


class PredictionRowsError(ValidationError):
    """Some rows of a batch are not valid; ``row_errors`` maps each bad row's index to its field messages."""

    def __init__(self, row_errors: dict[int, dict[str, list[str]]]):
        self.row_errors = dict(sorted(row_errors.items()))
        super().__init__([f"row {index}, {field}: {message}" for index, field, message in self.problems()])

    def problems(self) -> Iterator[tuple[int, str | None, str]]:
        """Every problem as (row index, field or None for the whole row, message), in row order."""
        for index, fields in self.row_errors.items():
            for field, messages in fields.items():
                for message in messages:
                    yield index, None if field == "__all__" else field, message


def prediction_rows_clean(rows: Sequence[Any], *, progress: Progress | None = None) -> list[dict[str, Any]]:
    """Validate every row with PredictionForm's fields; raise PredictionRowsError naming every bad row and field."""
    cleaned: list[dict[str, Any]] = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            errors[index] = {"__all__": [NOT_A_RECORD]}
        else:
            values, row_errors = _input_clean(row)
            if row_errors:
                errors[index] = row_errors
            else:
                cleaned.append(values)
        if progress and (index + 1) % PROGRESS_EVERY == 0:
            progress("validated", index + 1)
    if progress:
        progress("validated", len(rows))
    if errors:
        raise PredictionRowsError(errors)
    return cleaned


def _cents(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _prediction_new(
    inputs: Mapping[str, Any], estimate: tuple[float, float | None, float | None], **fields: Any
) -> Prediction:
    """An unsaved Prediction of cleaned inputs and their (charge, low, high), in cents."""
    charge, low, high = estimate
    return Prediction(
        **inputs,
        predicted_charges=_cents(charge),
        predicted_charges_low=_cents(low),
        predicted_charges_high=_cents(high),
        **fields,
    )


# ---------------------------------------------------------------------------
# One prediction


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
    """Validate one patient, predict their yearly charges and interval, and store them with one INSERT.

    Raises ValidationError for bad input and PredictionUnavailable when the database or the
    model cannot answer; either way nothing is stored.
    """
    inputs = prediction_input_clean(
        {"age": age, "sex": sex, "bmi": bmi, "children": children, "smoker": smoker, "region": region}
    )
    return prediction_create_cleaned(inputs=inputs, source=source)


# The columns of one INSERT: every concrete field but the id, in the model's order.
_INSERT_FIELDS = tuple(field for field in Prediction._meta.concrete_fields if not field.primary_key)
# Quoted as both backends quote (PostgreSQL, and SQLite for the local quick run).
_INSERT_COLUMNS = tuple(f'"{field.column}"' for field in _INSERT_FIELDS)
_INSERT_TABLE = f'"{Prediction._meta.db_table}"'
_INSERT = f"INSERT INTO {_INSERT_TABLE} ({', '.join(_INSERT_COLUMNS)})"
_PLACEHOLDERS = ", ".join(["%s"] * len(_INSERT_FIELDS))
_SOURCES = frozenset(Prediction.Source.values)


def prediction_create_cleaned(
    *, inputs: Mapping[str, Any], source: str, rate_limit: ratelimit.Charge | None = None
) -> Prediction:
    """Predict and store one patient whose inputs PredictionForm's fields already cleaned (the API's schema does).

    With ``rate_limit`` the request is counted in the same statement as the INSERT
    (``_prediction_insert``): over its limit nothing is stored and RateLimited is raised.
    Raises PredictionUnavailable when the database or the model cannot answer; nothing is stored then.
    """
    if source not in _SOURCES:
        raise ValidationError({"source": [f"{source!r} is not a source of predictions."]})
    with _unavailable_as_error():
        model, version = serving.model_serving()
        [estimate] = predict_charges_with_interval([inputs], model)
        prediction = _prediction_new(inputs, estimate, model_version=version, source=source)
        _prediction_insert(prediction, rate_limit)
    return prediction


def _prediction_insert(prediction: Prediction, rate_limit: ratelimit.Charge | None) -> None:
    """One INSERT of a new prediction whose every value was cleaned or computed here (the model
    version was just read), as ``save()`` would send it, without the ORM's compiler on every request."""
    if connection.vendor == "postgresql":  # psycopg2 adapts each of these types as the fields would
        values = [getattr(prediction, field.attname) for field in _INSERT_FIELDS]
    else:
        values = [field.get_db_prep_save(getattr(prediction, field.attname), connection) for field in _INSERT_FIELDS]
    prediction.pk = prediction_row_insert(values, rate_limit)
    prediction._state.adding = False
    prediction._state.db = connection.alias


def prediction_row_insert(values: Sequence[Any], rate_limit: ratelimit.Charge | None) -> int | None:
    """The statement that stores one prediction's row (``values`` in ``_INSERT_FIELDS`` order), counted with
    ``rate_limit`` when it is given; the new row's id. Over the limit nothing is inserted and RateLimited is raised.

    With a ``rate_limit`` not counted yet, on PostgreSQL, the count rides in the same statement (a
    data-modifying CTE, one transaction in autocommit): ``WITH hit AS (count) INSERT ... SELECT ...
    FROM hit WHERE hits <= limit``. Elsewhere (SQLite, the local quick run), or when it was counted
    already: the count, then the INSERT.
    """
    if rate_limit is None or rate_limit.decision is not None or connection.vendor != "postgresql":
        if rate_limit is not None:
            rate_limit.check()
        with connection.cursor() as cursor:
            cursor.execute(f"{_INSERT} VALUES ({_PLACEHOLDERS}) RETURNING id", values)
            return cursor.fetchone()[0]
    hit, hit_params, now = ratelimit.hit_statement(rate_limit)
    sql = (
        f"WITH hit AS ({hit}), stored AS ({_INSERT} SELECT {_PLACEHOLDERS} FROM hit WHERE hit.hits <= %s RETURNING id)"
        " SELECT hit.hits, hit.window_end, stored.id FROM hit LEFT JOIN stored ON true"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*hit_params, *values, rate_limit.rate[0]])
        hits, window_end, row_id = cursor.fetchone()
    rate_limit.counted(hits=hits, window_end=window_end, now=now)
    return row_id


# ---------------------------------------------------------------------------
# Many rows at once: the API's arrays and CSV files


def prediction_create_many(
    *,
    rows: Sequence[Mapping[str, Any]],
    source: str,
    batch: Batch | None = None,
    progress: Progress | None = None,
) -> list[Prediction]:
    """Validate every row, predict them all in one vectorised call, and store all or none.

    A ``batch`` that is not saved yet is saved in the same transaction (with its
    ``row_count``), so a rejected or failed file leaves no Batch behind either.
    ``progress(stage, rows_done)`` is called now and then while validating and storing.
    """
    inputs = prediction_rows_clean(rows, progress=progress)
    return prediction_create_many_cleaned(inputs=inputs, source=source, batch=batch, progress=progress)


def prediction_create_many_cleaned(
    *,
    inputs: Sequence[Mapping[str, Any]],
    source: str,
    batch: Batch | None = None,
    progress: Progress | None = None,
) -> list[Prediction]:
    """Predict and store rows whose inputs PredictionForm's fields already cleaned, all or none.

    The API's schema and ``prediction_rows_clean`` clean rows; ``batch`` and ``progress`` are
    as for ``prediction_create_many``.
    """
    if not inputs:
        raise ValidationError(NO_ROWS)
    Prediction._meta.get_field("source").clean(source, None)  # the same for every row: checked once
    with _unavailable_as_error():
        model, version = serving.model_serving()
        if progress:
            progress("predicted", 0)
        charges = predict_charges_with_interval(inputs, model)
        if progress:
            progress("predicted", len(inputs))
        with transaction.atomic():
            if batch is not None and batch.pk is None:
                batch.row_count = len(inputs)
                batch.full_clean()
                batch.save()
            created_at = timezone.now()
            predictions = [
                _prediction_new(row, estimate, model_version=version, source=source, batch=batch, created_at=created_at)
                for row, estimate in zip(inputs, charges, strict=True)
            ]
            # Every value was validated above or computed here; the foreign keys were just read or saved.
            pg_copy.objects_insert(predictions, progress=progress)
    return predictions


def batch_create(
    *,
    rows: Sequence[Mapping[str, Any]],
    file_name: str,
    created_by: AbstractBaseUser | None = None,
    progress: Progress | None = None,
) -> tuple[Batch, list[Prediction]]:
    """Score the rows of one CSV file as a Batch (source "batch"): all rows stored with it, or nothing."""
    batch = Batch(file_name=file_name[: Batch._meta.get_field("file_name").max_length], created_by=created_by)
    predictions = prediction_create_many(rows=rows, source=Prediction.Source.BATCH, batch=batch, progress=progress)
    return batch, predictions
