"""The floor: a version that answers a charge below $0 anywhere on a grid over the accepted inputs cannot serve.

A charge is never negative, yet a plain least-squares model (``tutorial-lr-v1``) answers
-$15,525.82 for an 18-year-old male non-smoker with a BMI of 70 in the southeast, inside the
ranges the form accepts. The grid takes every choice of each word input and, for each number,
every whole value where there are at most ``WHOLE_VALUES_MAX`` of them (children: 0 to 10) and
otherwise ``STEPS`` evenly spaced values from the lowest to the highest accepted, ends included
(whole numbers rounded): 10 ages x 2 sexes x 10 BMIs x 11 children x 2 smoker answers x 4
regions = 17,600 rows, one vectorised ``predict`` (about 0.1 s). The verdict is kept per artifact
sha256 and grid, so a process checks each artifact once.

The caller (``predictor.serving``) hands in the axes from the form's limits and the stored
choices; this module knows nothing of the app above it.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..features import FEATURES
from .artifacts import LoadedModel, ModelArtifactError

STEPS = 10  # values across a number's accepted range
WHOLE_VALUES_MAX = 11  # a whole-number input with at most this many accepted values takes every one
FLOOR = 0.0  # dollars: no answer may lie below it


class BelowFloorError(ModelArtifactError):
    """A version answers below $0 somewhere on the grid: it cannot become the champion."""


@dataclass(frozen=True)
class FloorVerdict:
    """What a version answers on the grid: its lowest answer, where, and how many answers lie below $0."""

    sha256: str
    rows: int
    below: int
    lowest: float
    lowest_inputs: dict[str, Any]

    @property
    def holds(self) -> bool:
        return self.below == 0

    def describe(self, name: str) -> str:
        """One sentence: where the version goes lowest, and whether that is below $0."""
        where = ", ".join(f"{key} {_shown(value)}" for key, value in self.lowest_inputs.items())
        if self.holds:
            return f"{name}'s lowest answer on the grid of {self.rows:,} inputs is ${self.lowest:,.2f} ({where})."
        return (
            f"{name} answers -${-self.lowest:,.2f} for {where}: {self.below:,} of its answers on a grid of "
            f"{self.rows:,} inputs over the accepted ranges lie below $0, and a version that answers a "
            "negative charge cannot become the champion."
        )


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def grid_axes(
    *, limits: Mapping[str, tuple[float, float]], whole: Collection[str], choices: Mapping[str, Sequence[str]],
    steps: int = STEPS,
) -> dict[str, tuple]:
    """Each input's values on the grid, in the order of the features: the choices, and the numbers (see above)."""
    import numpy as np

    axes: dict[str, tuple] = {}
    for name in FEATURES:
        if name in choices:
            axes[name] = tuple(choices[name])
            continue
        low, high = limits[name]
        if name in whole and high - low + 1 <= WHOLE_VALUES_MAX:
            axes[name] = tuple(range(int(low), int(high) + 1))
        elif name in whole:
            axes[name] = tuple(int(value) for value in np.unique(np.round(np.linspace(low, high, steps))))
        else:
            axes[name] = tuple(float(value) for value in np.linspace(low, high, steps))
    return axes


def floor_grid(axes: Mapping[str, Sequence[Any]]):
    """Every combination of the axes' values, as a frame of raw inputs the pipeline takes."""
    import pandas as pd

    frame = pd.DataFrame(list(itertools.product(*(axes[name] for name in FEATURES))), columns=list(FEATURES))
    return frame.astype({"age": "int64", "bmi": "float64", "children": "int64"})


_verdicts: dict[tuple[str, tuple], FloorVerdict] = {}


def floor_check(model: LoadedModel, axes: Mapping[str, Sequence[Any]]) -> FloorVerdict:
    """The model's verdict on the grid (computed once per artifact sha256 and grid in a process)."""
    import numpy as np

    key = (model.sha256, tuple((name, tuple(axes[name])) for name in FEATURES))
    if key in _verdicts:
        return _verdicts[key]
    frame = floor_grid(axes)
    answers = np.asarray(model.pipeline.predict(frame), dtype="float64")
    lowest = int(np.argmin(answers))
    inputs = {name: value.item() if hasattr(value, "item") else value for name, value in frame.iloc[lowest].items()}
    verdict = FloorVerdict(
        sha256=model.sha256, rows=len(frame), below=int((answers < FLOOR).sum()), lowest=float(answers[lowest]),
        lowest_inputs=inputs,
    )
    _verdicts[key] = verdict
    return verdict


def floor_require(model: LoadedModel, axes: Mapping[str, Sequence[Any]]) -> FloorVerdict:
    """The verdict of a model that keeps the floor; raise BelowFloorError, saying where it goes below, otherwise."""
    verdict = floor_check(model, axes)
    if not verdict.holds:
        raise BelowFloorError(verdict.describe(model.name))
    return verdict
