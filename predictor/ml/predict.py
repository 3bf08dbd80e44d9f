"""Predicting charges with a loaded model: input frames, the fast path or the pipeline, the interval, extrapolation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..features import FEATURES, NUMERIC_FEATURES
from .artifacts import LoadedModel
from .interval import prediction_interval, prediction_intervals


def features_frame(rows: Sequence[Mapping[str, Any]]):
    """A DataFrame of raw inputs in the column order and dtypes the pipeline was trained on."""
    import pandas as pd

    frame = pd.DataFrame.from_records([{name: row[name] for name in FEATURES} for row in rows], columns=FEATURES)
    return frame.astype({"age": "int64", "bmi": "float64", "children": "int64"})


def predict_charges(rows: Sequence[Mapping[str, Any]], model: LoadedModel) -> list[float]:
    """Predicted yearly charges in dollars, one per row of raw inputs.

    One row takes the exact fast path when the pipeline has one (microseconds instead of
    PyCaret's ~10 ms of pandas work); several rows go through the pipeline's own ``predict``,
    vectorised. Tests prove the two equal on the data file and on random valid inputs.
    """
    if len(rows) == 1 and model.fast is not None:
        return [model.fast.predict_one(rows[0])]
    return predict_charges_pipeline(rows, model)


def predict_charges_pipeline(rows: Sequence[Mapping[str, Any]], model: LoadedModel) -> list[float]:
    """The source of truth: the loaded PyCaret pipeline's own ``predict``, whatever the row count."""
    return [float(value) for value in model.pipeline.predict(features_frame(rows))]


def predict_charges_with_interval(
    rows: Sequence[Mapping[str, Any]], model: LoadedModel
) -> list[tuple[float, float | None, float | None]]:
    """(charge, low, high) per row; low and high are None for a model whose card has no interval."""
    points = predict_charges(rows, model)
    interval = model.card.get("interval")
    if not interval:
        return [(point, None, None) for point in points]
    return [(point, *prediction_interval(point, row, interval)) for point, row in zip(points, rows)]


def predict_charges_columns(columns: Mapping[str, Any], model: LoadedModel) -> tuple[Any, Any | None, Any | None]:
    """``predict_charges_with_interval`` for columns of cleaned inputs (arrays by input name): arrays of the
    charges, and of the interval's low and high ends (None for a model whose card has no interval).

    The same numbers as the rows would get: one row takes the fast path, several the pipeline's own
    ``predict`` on one frame, vectorised, and the interval is computed for all rows at once.
    """
    import numpy as np
    import pandas as pd

    count = len(columns[FEATURES[0]])
    if count == 1 and model.fast is not None:
        points = np.array([model.fast.predict_one({name: np.asarray(columns[name])[:1].tolist()[0] for name in FEATURES})], dtype="float64")
    else:
        frame = pd.DataFrame({name: columns[name] for name in FEATURES}, columns=FEATURES)
        frame = frame.astype({"age": "int64", "bmi": "float64", "children": "int64"})
        points = np.asarray(model.pipeline.predict(frame), dtype="float64")
    interval = model.card.get("interval")
    if not interval:
        return points, None, None
    return points, *prediction_intervals(points, columns["smoker"], columns["bmi"], interval)


def extrapolated_features(row: Mapping[str, Any], card: Mapping[str, Any]) -> list[str]:
    """The inputs of a row that lie outside the range the model was trained on."""
    ranges = card.get("training_ranges", {})
    return [
        name
        for name in NUMERIC_FEATURES
        if name in ranges and not ranges[name][0] <= float(row[name]) <= ranges[name][1]
    ]
