"""Input drift, for monitoring: the reference kept in the model card, PSI, and the size-aware threshold.

Drift is the population stability index (PSI) of each input against the training data:
numeric inputs binned on the training deciles, categorical ones by category. The reference
(the bins and the training counts in each) is computed when the model is trained and kept in
its card (``drift_reference``). Whether a PSI is more than chance is judged against the 99th
percentile of the PSI of random training resamples of the window's size, drawn at request
time from the stored counts with a fixed seed (resampling training rows with replacement and
binning them is drawing the bin counts from a multinomial with the training shares, so the
counts are all it needs).

Numbers only here: no database, no Django models. NumPy.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# PSI: a share of 0 is replaced by this (as Evidently does), so an empty bin costs a finite amount.
PSI_EPSILON = 1e-4
# The conventional bands.
PSI_WATCH = 0.10
PSI_DRIFT = 0.25
# The size-aware threshold: this percentile of the PSI of this many resamples of the window's size.
THRESHOLD_QUANTILE = 0.99
RESAMPLES = 2000
RESAMPLE_SEED = 11

NUMERIC_INPUTS = ("age", "bmi", "children")
CATEGORICAL_INPUTS = ("sex", "smoker", "region")
DRIFT_INPUTS = ("age", "sex", "bmi", "children", "smoker", "region")


# ---------------------------------------------------------------------------
# Drift: the reference kept in the card, PSI, and the size-aware threshold


def numeric_bin_edges(values: Sequence[float]) -> list[float]:
    """The training deciles that split the values: observed values (the inverse of the empirical distribution,
    no interpolation), unique, and above the minimum, so that no training bin is empty.

    Bin i holds the values with exactly i edges at or below them (``searchsorted(..., side="right")``,
    PostgreSQL's ``width_bucket(x, edges)``): below the first edge, then [e1, e2), ..., then from the last up.
    """
    import numpy as np

    values = np.asarray(values, dtype="float64")
    deciles = np.quantile(values, np.arange(1, 10) / 10, method="inverted_cdf")
    return [float(edge) for edge in np.unique(deciles) if edge > values.min()]


def numeric_bins(values: Sequence[float], edges: Sequence[float]):
    """The bin of each value (0 to len(edges))."""
    import numpy as np

    return np.searchsorted(np.asarray(edges, dtype="float64"), np.asarray(values, dtype="float64"), side="right")


def numeric_bin_labels(edges: Sequence[float]) -> list[str]:
    """How the bins read: "< 19", "19 to < 24", ..., "≥ 59"."""
    if not edges:
        return ["all"]
    labels = [f"< {edges[0]:g}"]
    labels += [f"{low:g} to < {high:g}" for low, high in zip(edges, edges[1:])]
    return [*labels, f"≥ {edges[-1]:g}"]


def bin_counts(values: Sequence[Any], spec: Mapping[str, Any]) -> list[int]:
    """Counts of the values in the bins of one input of a drift reference (values outside the categories are dropped)."""
    import numpy as np

    if spec["kind"] == "numeric":
        bins = numeric_bins(values, spec["edges"])
        return [int(count) for count in np.bincount(bins, minlength=len(spec["edges"]) + 1)]
    position = {category: index for index, category in enumerate(spec["categories"])}
    counts = [0] * len(position)
    for value in values:
        if value in position:
            counts[position[value]] += 1
    return counts


def input_fingerprint(row: Mapping[str, Any]) -> str:
    """A short hash of a patient's six inputs (BMI to 3 decimals); ``monitoring`` computes the same in SQL."""
    text = "|".join(
        str(part)
        for part in (
            int(row["age"]), row["sex"], round(float(row["bmi"]) * 1000), int(row["children"]), row["smoker"], row["region"]
        )
    )
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()[:16]


def drift_reference(frame) -> dict[str, Any]:
    """What monitoring compares inputs with, from the training data (a DataFrame with the six inputs).

    Per input: its bins (numeric: the deciles' edges; categorical: the categories) and the
    training rows in each. Also the rows' fingerprints, so the monitoring page can say when
    actual charges belong to patients the model was trained on.
    """
    inputs: dict[str, Any] = {}
    for name in DRIFT_INPUTS:
        column = frame[name]
        if name in NUMERIC_INPUTS:
            spec: dict[str, Any] = {"kind": "numeric", "edges": numeric_bin_edges(column.to_numpy())}
        else:
            spec = {"kind": "categorical", "categories": sorted(str(value) for value in column.unique())}
        spec["counts"] = bin_counts(column.astype(str).tolist() if spec["kind"] == "categorical" else column, spec)
        inputs[name] = spec
    fingerprints = sorted({input_fingerprint(row) for row in frame[list(DRIFT_INPUTS)].to_dict("records")})
    return {
        "rows": int(len(frame)),
        "method": "PSI against the training data: numeric inputs on the training deciles (bins [e_i, e_i+1)), "
        "categorical ones by category; a share of 0 counts as 0.0001",
        "inputs": inputs,
        "fingerprints": {
            "method": "md5 of age|sex|round(bmi*1000)|children|smoker|region, first 16 hex digits",
            "values": fingerprints,
        },
    }


def psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    """Population stability index between two sets of counts (or shares) over the same bins.

    PSI = Σ (a_i − e_i) · ln(a_i / e_i) over the shares, with a share of 0 taken as PSI_EPSILON.
    """
    import numpy as np

    e = np.asarray(expected, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    e = np.maximum(e / e.sum(), PSI_EPSILON)
    a = np.maximum(a / a.sum(), PSI_EPSILON)
    return float(np.sum((a - e) * np.log(a / e)))


def psi_threshold(expected: Sequence[float], n: int, *, name: str = "") -> float:
    """The 99th percentile of the PSI of RESAMPLES random training resamples of n rows (with replacement).

    Drawn from the multinomial with the training shares, with a seed fixed by the input's name and n,
    so the same window always gets the same threshold.
    """
    import numpy as np

    counts = np.asarray(expected, dtype="float64")
    shares = counts / counts.sum()
    rng = np.random.default_rng([RESAMPLE_SEED, zlib.crc32(name.encode()), n])
    samples = rng.multinomial(n, shares, size=RESAMPLES) / n
    e = np.maximum(shares, PSI_EPSILON)
    a = np.maximum(samples, PSI_EPSILON)
    values = np.sum((a - e) * np.log(a / e), axis=1)
    return float(np.quantile(values, THRESHOLD_QUANTILE))


def psi_band(value: float) -> str:
    """The conventional band: "ok" under 0.1, "watch" from 0.1, "drift" from 0.25."""
    if value >= PSI_DRIFT:
        return "drift"
    return "watch" if value >= PSI_WATCH else "ok"


def drift_status(value: float, threshold: float) -> str:
    """ok, watch or drift, knowing the window's size.

    "drift" (a drift flag) only where the PSI is beyond the size-aware threshold (more than
    chance at this window size) and at least the conventional 0.1 (large enough to matter: at
    a million rows the threshold alone would flag shifts too small to matter); "watch" where
    it is 0.1 or more but a window this small shows that much by chance (look again as more
    predictions arrive); "ok" under 0.1, whatever the window.
    """
    if value < PSI_WATCH:
        return "ok"
    return "drift" if value > threshold else "watch"


@dataclass(frozen=True)
class InputDrift:
    """One input's drift in a window: its PSI, the size-aware threshold, the status and band, bin by bin."""

    name: str
    n: int
    psi: float
    threshold: float
    status: str
    band: str
    bins: list[tuple[str, float, float]]  # (label, training share, window share)

    @property
    def flagged(self) -> bool:
        return self.status == "drift"


def input_drift(name: str, spec: Mapping[str, Any], counts: Sequence[int]) -> InputDrift | None:
    """The drift of one input from the window's counts in the reference's bins; None for an empty window."""
    n = int(sum(counts))
    if not n:
        return None
    value = psi(spec["counts"], counts)
    threshold = psi_threshold(spec["counts"], n, name=name)
    labels = numeric_bin_labels(spec["edges"]) if spec["kind"] == "numeric" else list(spec["categories"])
    total = sum(spec["counts"])
    bins = [(label, expected / total, count / n) for label, expected, count in zip(labels, spec["counts"], counts)]
    return InputDrift(
        name=name, n=n, psi=value, threshold=threshold, status=drift_status(value, threshold), band=psi_band(value),
        bins=bins,
    )
