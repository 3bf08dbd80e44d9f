"""What drives an estimate: exact Shapley values of the six raw inputs, in dollars.

The value of a coalition S of inputs is the mean, over a fixed background sample of training
patients kept in the model card (``explain_background``), of the pipeline's prediction with the
inputs in S taken from the patient and the others from the background row. With six inputs
there are 2⁶ = 64 coalitions, so one vectorised ``predict`` on 64 × ~100 rows gives them all
(about 20 ms), and the Shapley values follow exactly, whatever features the pipeline engineers.

Efficiency holds by construction: the base value (the empty coalition: the mean prediction
over the background) plus the six contributions equals the prediction for the patient.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..features import FEATURES
from .artifacts import LoadedModel

# The card key holding the background sample, written by training (``_explain_background``).
BACKGROUND_KEY = "explain_background"


class NoBackgroundError(LookupError):
    """The model's card has no background sample, so its estimates cannot be explained."""


@dataclass(frozen=True)
class Contributions:
    """An estimate split into a base value (a typical patient) plus one dollar amount per input."""

    base_value: float
    contributions: dict[str, float]

    @property
    def total(self) -> float:
        return self.base_value + sum(self.contributions.values())


def background_rows(card: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The background patients of a model card, as rows of raw inputs; NoBackgroundError when absent."""
    background = card.get(BACKGROUND_KEY)
    if not background or not background.get("rows"):
        raise NoBackgroundError(f"The card of {card.get('name')} has no {BACKGROUND_KEY}.")
    columns = background.get("columns", list(FEATURES))
    return [dict(zip(columns, values)) for values in background["rows"]]


def _coalition_weights(players: int) -> list[float]:
    """The Shapley weight |S|!(n-|S|-1)!/n! of a coalition of each size not holding the player."""
    return [math.factorial(size) * math.factorial(players - size - 1) / math.factorial(players) for size in range(players)]


def shapley_exact(
    row: Mapping[str, Any],
    background: Sequence[Mapping[str, Any]],
    predict_frame: Callable[[Any], Any],
    features: Sequence[str] = FEATURES,
) -> Contributions:
    """Exact Shapley values of ``features`` for one row against a background, with one call of ``predict_frame``.

    ``predict_frame`` takes a DataFrame of raw inputs (the background repeated once per
    coalition) and returns one prediction per row.
    """
    import numpy as np
    import pandas as pd

    players = len(features)
    coalitions = 1 << players
    size = len(background)
    masks = (np.arange(coalitions)[:, None] >> np.arange(players)[None, :]) & 1  # coalition × player
    taken = np.repeat(masks.astype(bool), size, axis=0)  # one block of background rows per coalition
    columns = {}
    for index, name in enumerate(features):
        base = np.tile(np.array([item[name] for item in background], dtype=object), coalitions)
        columns[name] = np.where(taken[:, index], row[name], base)
    frame = pd.DataFrame(columns, columns=list(features))
    frame = frame.astype({name: kind for name, kind in (("age", "int64"), ("bmi", "float64"), ("children", "int64")) if name in frame})
    predictions = np.asarray(predict_frame(frame), dtype="float64")
    value = predictions.reshape(coalitions, size).mean(axis=1)  # v(S) for every coalition S, by bitmask
    sizes = masks.sum(axis=1)
    weights = _coalition_weights(players)
    contributions = {}
    for index, name in enumerate(features):
        bit = 1 << index
        without = [mask for mask in range(coalitions) if not mask & bit]
        contributions[name] = float(sum(weights[sizes[mask]] * (value[mask | bit] - value[mask]) for mask in without))
    return Contributions(base_value=float(value[0]), contributions=contributions)


def prediction_contributions(row: Mapping[str, Any], model: LoadedModel) -> Contributions:
    """The Shapley contributions of one patient's six inputs to the model's estimate, in dollars."""
    return shapley_exact(row, background_rows(model.card), model.pipeline.predict)
