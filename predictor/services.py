"""Writes: the one place a prediction is made and stored, for the form, the API, the admin and the commands."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import Error as DatabaseDriverError
from django.db import connection, transaction
from django.utils import timezone

from . import pg_copy, serving
# The form-field cleaning lives in columns (beside the column cleaner that falls back on it); callers know it as services'.
from .columns import NOT_A_RECORD, PredictionRowsError, Progress, prediction_input_clean, prediction_rows_clean  # noqa: F401
from .features import FEATURES
from .ml.artifacts import LoadedModel, ModelArtifactError
from .ml.predict import predict_charges_columns, predict_charges_with_interval
from .models import Batch, ModelVersion, Prediction
from .pg_copy import CENT
from .security import ratelimit

NO_ROWS = "There are no rows to predict."


class PredictionUnavailable(Exception):
    """The database or the model could not make or store a prediction right now; nothing was stored.

    ``kind`` is ``"database"``, ``"model"`` or ``"paused"`` (staff paused the service); the original error is the ``__cause__``.
    """

    def __init__(self, kind: str, detail: str):
        self.kind = kind
        super().__init__(detail if kind == "paused" else f"the {kind} is not available: {detail}")


@contextmanager
def _unavailable_as_error() -> Iterator[None]:
    # django.db.Error, not just DatabaseError: a lost connection raises InterfaceError.
    try:
        yield
    except serving.ServingPaused as exc:
        raise PredictionUnavailable("paused", str(exc)) from exc
    except ModelArtifactError as exc:
        raise PredictionUnavailable("model", str(exc)) from exc
    except DatabaseDriverError as exc:
        raise PredictionUnavailable("database", str(exc)) from exc


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
        serving.serving_pause_check()
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
# Many rows at once, as columns: the API's arrays and CSV files

# The dtype of each cleaned input's column; the choices are arrays of Python words.
_COLUMN_DTYPES = {"age": "int64", "bmi": "float64", "children": "int64"}


def prediction_columns(records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Records whose six inputs PredictionForm's fields cleaned (or the API's schema) as the columns the
    columnar path takes; ``columns.rows_clean_columns`` gives the same from a file's text."""
    columns: dict[str, np.ndarray] = {}
    for name in FEATURES:
        values = [record[name] for record in records]
        if name in _COLUMN_DTYPES:
            columns[name] = np.array(values, dtype=_COLUMN_DTYPES[name])
        else:
            columns[name] = np.empty(len(values), dtype=object)
            columns[name][:] = values
    return columns


@dataclass
class StoredPredictions:
    """Rows stored from columns: their ids and charges as stored (text to the cent; low and high None
    for a model without an interval), in the order of the columns, and what every row shares."""

    columns: Mapping[str, np.ndarray]
    ids: list[int]
    charges: list[str]
    low: list[str] | None
    high: list[str] | None
    model_version: ModelVersion
    source: str
    created_at: datetime
    batch: Batch | None = None

    def __len__(self) -> int:
        return len(self.charges)

    def predictions(self) -> list[Prediction]:
        """The stored rows as saved Prediction objects, for callers that answer row by row (an API batch)
        and SQLite's bulk_create (before the ids are known)."""
        rows = zip(*(self.columns[name].tolist() for name in FEATURES), strict=True)
        ids, low, high = (values or [None] * len(self) for values in (self.ids, self.low, self.high))
        predictions = []
        for pk, inputs, charge, lower, upper in zip(ids, rows, self.charges, low, high, strict=True):
            prediction = Prediction(
                pk, *inputs, Decimal(charge), lower and Decimal(lower), upper and Decimal(upper),
                model_version=self.model_version, source=self.source, created_at=self.created_at, batch=self.batch,
            )
            prediction._state.adding = False
            prediction._state.db = connection.alias
            predictions.append(prediction)
        return predictions


def prediction_create_many(
    *, rows: Sequence[Mapping[str, Any]], source: str, progress: Progress | None = None
) -> list[Prediction]:
    """Validate records one by one with PredictionForm's fields, then predict and store them all or none as
    ``prediction_create_many_cleaned`` does; the stored Prediction objects (files go through columns instead)."""
    inputs = prediction_rows_clean(rows, progress=progress)
    stored = prediction_create_many_cleaned(columns=prediction_columns(inputs), source=source, progress=progress)
    return stored.predictions()


def prediction_create_many_cleaned(
    *,
    columns: Mapping[str, np.ndarray],
    source: str,
    batch: Batch | None = None,
    progress: Progress | None = None,
    serving_model: tuple[LoadedModel, ModelVersion] | None = None,
) -> StoredPredictions:
    """Predict every row of cleaned columns in one vectorised call and store them all or none with COPY.

    The rows of a file belong to its ``batch``, saved by ``batch_start`` in the caller's transaction, which
    holds every chunk, so a rejected or failed file leaves no Batch behind either. ``progress(stage, rows_done)`` is
    called now and then while predicting and storing. ``serving_model`` pins the (model, version) of
    every chunk of one file; by default, the one serving now.
    """
    count = len(columns[FEATURES[0]]) if columns else 0
    if not count:
        raise ValidationError(NO_ROWS)
    Prediction._meta.get_field("source").clean(source, None)  # the same for every row: checked once
    with _unavailable_as_error():
        serving.serving_pause_check()  # every chunk of a file: a pause stops a file being scored
        model, version = serving_model or serving.model_serving()
        if progress:
            progress("predicted", 0)
        charge, low, high = predict_charges_columns(columns, model)
        if progress:
            progress("predicted", count)
        with transaction.atomic():
            stored = StoredPredictions(
                columns=columns, ids=[], charges=pg_copy.cents_text(charge),
                low=None if low is None else pg_copy.cents_text(low), high=None if high is None else pg_copy.cents_text(high),
                model_version=version, source=source, created_at=timezone.now(), batch=batch,
            )
            _stored_insert(stored, progress)
    return stored


def _stored_insert(stored: StoredPredictions, progress: Progress | None) -> None:
    """COPY the rows from their columns (every value was validated or computed here; the foreign keys were
    just read or saved). Elsewhere (SQLite, the local quick run), bulk_create of their objects."""
    if connection.vendor != "postgresql":
        predictions = stored.predictions()
        pg_copy.objects_insert(predictions, progress=progress)
        stored.ids = [prediction.pk for prediction in predictions]
        return
    text = {
        "age": list(map(str, stored.columns["age"].tolist())),
        "sex": stored.columns["sex"].tolist(),
        "bmi": list(map(repr, stored.columns["bmi"].tolist())),
        "children": list(map(str, stored.columns["children"].tolist())),
        "smoker": stored.columns["smoker"].tolist(),
        "region": stored.columns["region"].tolist(),
        "predicted_charges": stored.charges,
        "predicted_charges_low": pg_copy.NULL if stored.low is None else stored.low,
        "predicted_charges_high": pg_copy.NULL if stored.high is None else stored.high,
        "model_version_id": str(stored.model_version.pk),
        "source": stored.source,
        "created_at": stored.created_at.isoformat(),
        "batch_id": pg_copy.NULL if stored.batch is None else str(stored.batch.pk),
    }
    # A batch's rows are found by their batch: only rows without one (an API batch) get their ids back.
    stored.ids = pg_copy.columns_insert(Prediction, text, count=len(stored), progress=progress,
                                        reserve_ids=stored.batch is None)


@dataclass
class BatchScoring:
    """A Batch stored a chunk of rows at a time in the caller's transaction, every chunk with the model read at its start."""

    batch: Batch
    model: LoadedModel
    version: ModelVersion


def batch_start(*, file_name: str, created_by: AbstractBaseUser | None = None) -> BatchScoring:
    """Save a Batch of no rows yet (source "batch") inside the caller's transaction, which must hold every chunk."""
    with _unavailable_as_error():
        serving.serving_pause_check()
        model, version = serving.model_serving()
        batch = Batch(file_name=file_name[: Batch._meta.get_field("file_name").max_length], created_by=created_by, row_count=0)
        batch.full_clean()
        batch.save()
    return BatchScoring(batch=batch, model=model, version=version)


def batch_chunk_create(*, scoring: BatchScoring, columns: Mapping[str, np.ndarray], progress: Progress | None = None) -> StoredPredictions:
    """Predict and store one chunk of a started batch's cleaned rows (``prediction_create_many_cleaned``)."""
    stored = prediction_create_many_cleaned(columns=columns, source=Prediction.Source.BATCH, batch=scoring.batch,
                                            progress=progress, serving_model=(scoring.model, scoring.version))
    scoring.batch.row_count += len(stored)
    return stored


def batch_finish(scoring: BatchScoring) -> Batch:
    """The started batch with its row count stored: the rows of all its chunks."""
    with _unavailable_as_error():
        Batch.objects.filter(pk=scoring.batch.pk).update(row_count=scoring.batch.row_count)
    return scoring.batch


def batch_create(
    *,
    columns: Mapping[str, np.ndarray],
    file_name: str,
    created_by: AbstractBaseUser | None = None,
    progress: Progress | None = None,
) -> tuple[Batch, StoredPredictions]:
    """Score the cleaned columns of one CSV file as a Batch (source "batch"): all rows stored with it, or nothing."""
    with transaction.atomic():
        scoring = batch_start(file_name=file_name, created_by=created_by)
        stored = batch_chunk_create(scoring=scoring, columns=columns, progress=progress)
        return batch_finish(scoring), stored
