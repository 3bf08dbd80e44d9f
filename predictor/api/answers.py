"""A batch's answer rendered from its columns: the JSON ``PredictionBatchOut`` gives for the stored rows,
without a model object or a schema object per row.

Through the schema, 10,000 records cost about 2 s of a 4.5 s request (a ``Prediction`` per row, then
pydantic reading 15 attributes of each); from the columns, a dict per row in the schema's order.
tests/api/test_answers.py proves the bytes equal to the schema's rendering of the same rows read back.
"""

from __future__ import annotations

from http import HTTPStatus

import numpy as np
from django.http import HttpRequest, HttpResponse
from ninja.renderers import JSONRenderer

from ..features import FEATURES, NUMERIC_FEATURES
from ..services import StoredPredictions
from .schemas import PredictionOut

# The API's renderer (NinjaAPI's default), for an answer an operation renders itself.
RENDERER = JSONRenderer()
# The answer's keys in the schema's order: the inputs, then what was stored with them.
KEYS = tuple(PredictionOut.model_fields)


def _amounts(texts: list[str] | None, count: int) -> list[float | None]:
    # The schema reads the stored Decimal as a float: the same value as the text's float.
    return [float(text) for text in texts] if texts is not None else [None] * count


def _extrapolated(stored: StoredPredictions) -> list[list[str]]:
    """Each row's inputs outside its model's training ranges (``ml.predict.extrapolated_features``), as arrays."""
    ranges = stored.model_version.card.get("training_ranges", {})
    outside = {
        name: (column < ranges[name][0]) | (column > ranges[name][1])
        for name in NUMERIC_FEATURES
        if name in ranges
        for column in [np.asarray(stored.columns[name], dtype="float64")]
    }
    names = [[] for _ in range(len(stored))]
    for name, flags in outside.items():  # NUMERIC_FEATURES' order, as extrapolated_features lists them
        for index in np.flatnonzero(flags).tolist():
            names[index].append(name)
    return names


def batch_answer(request: HttpRequest, stored: StoredPredictions) -> HttpResponse:
    """The 201 answer to a batch: ``{"predictions": [...]}`` in the order of the records sent."""
    count = len(stored)
    shared = {
        "model_version": stored.model_version.name,
        "created_at": stored.created_at,
        "source": stored.source,
        "anonymised_at": None,
    }
    columns = {
        **{name: stored.columns[name].tolist() for name in FEATURES},
        "id": stored.ids,
        "predicted_charges": _amounts(stored.charges, count),
        "predicted_charges_low": _amounts(stored.low, count),
        "predicted_charges_high": _amounts(stored.high, count),
        "extrapolated": _extrapolated(stored),
        **{name: [value] * count for name, value in shared.items()},
    }
    rows = [dict(zip(KEYS, values, strict=True)) for values in zip(*(columns[key] for key in KEYS), strict=True)]
    return HttpResponse(
        RENDERER.render(request, {"predictions": rows}, response_status=HTTPStatus.CREATED),
        status=HTTPStatus.CREATED,
        content_type=f"{RENDERER.media_type}; charset={RENDERER.charset}",
    )
