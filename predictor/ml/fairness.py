"""Fairness figures by group: accuracy, bias, calibration and interval coverage, each with a stratified bootstrap interval.

Pure maths (NumPy): the rows come from training's repeated 70/30 splits (``ml.fairness_fit``,
out-of-fold) or from the recorded actual charges (``predictor.monitoring.fairness``, live).

- ``group_labels``: each row's group in each dimension (sex, age band, region, smoker, sex × smoker).
- ``group_figures``: per group, n, MAE, bias (mean of actual − estimate, as on the monitoring page:
  positive means the model under-estimated),
  the calibration ratio Σ estimate / Σ actual, 90% interval coverage and mean interval width; each with
  a 95% percentile interval from a stratified bootstrap: resampling within each group (and, when rows
  repeat a patient, whole patients within the group), ``BOOTSTRAP_REPETITIONS`` times from a stated seed;
  over ``BOOTSTRAP_MAX_ROWS`` rows of single predictions, the normal approximation instead.
  Per dimension, the largest gap between its groups, with the interval of the same two groups' difference.
- ``discrimination_free``: h*(x) = Σ_s μ(x, s) · P(S = s) (Lindholm, Richman, Tsanakas and Wüthrich,
  ASTIN Bulletin 2022): the model averaged over ``sex`` with its population shares.
- ``variant_figures``: a variant's MAE and bias overall and by sex, calibration by sex, and the paired
  difference in absolute error against the served model, with its bootstrap interval.
- ``auc``: the area under the ROC curve (Mann–Whitney), for the leakage of ``sex`` through the other inputs.

The figures are associations in past data between a group and the model's errors; they are not causes,
and a group of few rows says little (under ``MIN_ROWS`` rows, no interval is given).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ..features import AGE_BANDS
from .stats import CONFIDENCE

DIMENSIONS = ("sex", "age_band", "region", "smoker", "sex_smoker")
METRICS = ("mae", "bias", "calibration", "coverage", "width")
# The figures a gap is reported for (the width follows the interval's groups, not these).
GAP_METRICS = ("mae", "bias", "calibration", "coverage")
MIN_ROWS = 30  # a group under this many rows is shown with its n and no interval
BOOTSTRAP_REPETITIONS = 1000
BOOTSTRAP_SEED = 123
# Over this many rows (live rows, one per prediction), intervals come from the normal approximation, exact enough
# there and a thousand times cheaper than 1,000 resamples of every row.
BOOTSTRAP_MAX_ROWS = 5_000
# Dollars to the cent; ratios to four places.
_DECIMALS = {"mae": 2, "bias": 2, "calibration": 4, "coverage": 4, "width": 2}


def age_band(age) -> np.ndarray:
    """The forecast's age band label of each age."""
    age = np.asarray(age, dtype="float64")
    labels = np.array([label for label, _, _ in AGE_BANDS], dtype=object)
    edges = np.array([first for _, first, _ in AGE_BANDS[1:]])
    return labels[np.searchsorted(edges, age, side="right")]


def group_labels(columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Each row's group in each dimension, from arrays of the raw inputs by name (age, sex, smoker, region)."""
    sex = np.asarray(columns["sex"], dtype=object)
    smoker = np.where(np.char.lower(np.asarray(columns["smoker"], dtype=str)) == "yes", "smoker", "non-smoker").astype(object)
    return {
        "sex": sex,
        "age_band": age_band(columns["age"]),
        "region": np.asarray(columns["region"], dtype=object),
        "smoker": smoker,
        "sex_smoker": np.array([f"{s} {m}" for s, m in zip(sex, smoker)], dtype=object),
    }


def _unit_sums(actual, estimate, low, high, clusters) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The sampling units (patients, or rows) and each unit's sums: rows, |error|, error, estimate, actual, held, width."""
    actual, estimate = np.asarray(actual, dtype="float64"), np.asarray(estimate, dtype="float64")
    error = actual - estimate  # the monitoring page's sign: positive when under-estimated
    parts = {"rows": np.ones_like(actual), "abs": np.abs(error), "err": error, "est": estimate, "act": actual}
    if low is not None and high is not None:
        low, high = np.asarray(low, dtype="float64"), np.asarray(high, dtype="float64")
        parts["held"] = ((actual >= low) & (actual <= high)).astype("float64")
        parts["width"] = high - low
    units, inverse = np.unique(np.arange(len(actual)) if clusters is None else np.asarray(clusters), return_inverse=True)
    return inverse, {name: np.bincount(inverse, weights=values, minlength=len(units)) for name, values in parts.items()}


def _metrics(sums: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The figures from summed parts (the last axis summed already): ratios of sums, so a resample is cheap."""
    rows = sums["rows"]
    with np.errstate(invalid="ignore", divide="ignore"):
        figures = {"mae": sums["abs"] / rows, "bias": sums["err"] / rows, "calibration": sums["est"] / sums["act"]}
        if "held" in sums:
            figures["coverage"] = sums["held"] / rows
            figures["width"] = sums["width"] / rows
    return figures


def stratified_resamples(strata, *, repetitions: int, rng: np.random.Generator) -> dict[Any, np.ndarray]:
    """Per stratum, a (repetitions × its size) array of positions drawn with replacement from that stratum only."""
    strata = np.asarray(strata, dtype=object)
    draws = {}
    for stratum in sorted(set(strata.tolist()), key=str):
        positions = np.flatnonzero(strata == stratum)
        draws[stratum] = positions[rng.integers(0, len(positions), (repetitions, len(positions)))]
    return draws


def _interval(replicates: np.ndarray) -> tuple[float, float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    finite = replicates[np.isfinite(replicates)]
    return float(np.percentile(finite, tail)), float(np.percentile(finite, 100 - tail))


def _figure(value: float, replicates: np.ndarray | float | None, metric: str) -> dict[str, float | None]:
    """The value with its interval: percentiles of bootstrap replicates, or value ± z · a standard error (a float)."""
    digits = _DECIMALS[metric]
    if replicates is None or not np.isfinite(value):
        return {"value": round(float(value), digits) if np.isfinite(value) else None, "low": None, "high": None}
    if isinstance(replicates, np.ndarray):
        low, high = _interval(replicates)
    else:
        from scipy.stats import norm

        half = float(norm.ppf(1 - (1 - CONFIDENCE) / 2)) * replicates
        low, high = float(value) - half, float(value) + half
    return {"value": round(float(value), digits), "low": round(low, digits), "high": round(high, digits)}


def _standard_errors(unit: Mapping[str, np.ndarray], members: np.ndarray) -> dict[str, float]:
    """Each figure's standard error over a group of rows: of a mean, and of the ratio Σ estimate / Σ actual (delta method)."""
    root = np.sqrt(len(members))
    errors = {metric: float(unit[part][members].std(ddof=1) / root)
              for metric, part in (("mae", "abs"), ("bias", "err"), ("coverage", "held"), ("width", "width")) if part in unit}
    estimate, actual = unit["est"][members], unit["act"][members]
    ratio = estimate.sum() / actual.sum()
    errors["calibration"] = float((estimate - ratio * actual).std(ddof=1) / (root * actual.mean()))
    return errors


def group_figures(*, actual, estimate, groups: Mapping[str, Sequence[Any]], low=None, high=None, clusters=None,
                  repetitions: int = BOOTSTRAP_REPETITIONS, seed: int = BOOTSTRAP_SEED,
                  max_bootstrap_rows: int = BOOTSTRAP_MAX_ROWS) -> dict[str, Any]:
    """The figures of every group of every dimension, and each dimension's largest gaps; see the module docstring.
    Rows without clusters, over ``max_bootstrap_rows`` of them, get normal-approximation intervals instead."""
    inverse, unit = _unit_sums(actual, estimate, low, high, clusters)
    normal = clusters is None and len(unit["rows"]) > max_bootstrap_rows
    metrics = [metric for metric in METRICS if metric != "coverage" or "held" in unit]
    metrics = [metric for metric in metrics if metric != "width" or "width" in unit]
    rows, gaps = [], []
    for index, (dimension, labels) in enumerate(groups.items()):
        labels = np.asarray(labels, dtype=object)
        # A unit (patient) has one group per dimension: its rows' first label.
        unit_label = np.empty(len(unit["rows"]), dtype=object)
        unit_label[inverse[::-1]] = labels[::-1]
        if normal:
            draws = dict.fromkeys(sorted(set(unit_label.tolist()), key=str))
        else:
            draws = stratified_resamples(unit_label, repetitions=repetitions, rng=np.random.default_rng([seed, index]))
        replicates = {}
        for group, drawn in draws.items():
            members = np.flatnonzero(unit_label == group)
            point = _metrics({name: values[members].sum() for name, values in unit.items()})
            n = int(unit["rows"][members].sum())
            enough = n >= MIN_ROWS
            sampled = None
            if enough:
                sampled = _standard_errors(unit, members) if normal else _metrics(
                    {name: values[drawn].sum(axis=1) for name, values in unit.items()})
            if enough:
                replicates[group] = (point, sampled)
            row = {"dimension": dimension, "group": str(group), "n": n}
            if clusters is not None:
                row["patients"] = int(len(members))
            for metric in METRICS:  # coverage and width are None without intervals
                available = metric in metrics
                row[metric] = _figure(point[metric], sampled[metric] if enough else None, metric) if available else {
                    "value": None, "low": None, "high": None}
            rows.append(row)
        gaps.extend(_gaps(dimension, replicates, metrics))
    return {
        "groups": rows,
        "gaps": gaps,
        "bootstrap": {
            "repetitions": repetitions,
            "seed": seed,
            "confidence": CONFIDENCE,
            "resampled": "patients within each group" if clusters is not None else "rows within each group",
            "method": f"normal approximation (over {max_bootstrap_rows:,} rows)" if normal else "stratified bootstrap, percentile",
            "min_rows": MIN_ROWS,
        },
    }


def _gaps(dimension: str, replicates: Mapping[Any, tuple], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """Per metric, the highest group minus the lowest (groups of MIN_ROWS rows or more), with the interval of that difference."""
    gaps = []
    for metric in (metric for metric in GAP_METRICS if metric in metrics):
        values = {group: float(point[metric]) for group, (point, _) in replicates.items() if np.isfinite(point[metric])}
        if len(values) < 2:
            continue
        top, bottom = max(values, key=values.get), min(values, key=values.get)
        first, second = replicates[top][1][metric], replicates[bottom][1][metric]
        # Replicates subtract; the groups are independent, so standard errors add in quadrature.
        difference = first - second if isinstance(first, np.ndarray) else float(np.hypot(first, second))
        gap = _figure(values[top] - values[bottom], difference, metric)
        gaps.append({"dimension": dimension, "metric": metric, "highest": str(top), "lowest": str(bottom), **gap})
    return gaps


def discrimination_free(predict: Callable[[Any], Any], frame, *, shares: Mapping[str, float], column: str = "sex") -> np.ndarray:
    """h*(x) = Σ_s μ(x, s) · P(S = s): the model's estimate with ``column`` set to each value, weighted by its share."""
    total = np.zeros(len(frame))
    for value, share in shares.items():
        total += share * np.asarray(predict(frame.assign(**{column: value})), dtype="float64")
    return total


def population_shares(values) -> dict[str, float]:
    """Each value's share of the rows, e.g. {"female": 0.495, "male": 0.505}."""
    values, counts = np.unique(np.asarray(values, dtype=str), return_counts=True)
    return {str(value): float(count / counts.sum()) for value, count in zip(values, counts)}


def paired_difference(*, actual, served, variant, clusters=None, repetitions: int = BOOTSTRAP_REPETITIONS,
                      seed: int = BOOTSTRAP_SEED) -> dict[str, float]:
    """Mean of |variant error| − |served error| (positive: the variant is less accurate), with its bootstrap interval."""
    actual = np.asarray(actual, dtype="float64")
    change = np.abs(np.asarray(variant, dtype="float64") - actual) - np.abs(np.asarray(served, dtype="float64") - actual)
    units = np.arange(len(change)) if clusters is None else np.asarray(clusters)
    _, inverse = np.unique(units, return_inverse=True)
    sums, rows = np.bincount(inverse, weights=change), np.bincount(inverse).astype("float64")
    drawn = np.random.default_rng(seed).integers(0, len(sums), (repetitions, len(sums)))
    low, high = _interval(sums[drawn].sum(axis=1) / rows[drawn].sum(axis=1))
    return {"mean": round(float(change.mean()), 2), "low": round(low, 2), "high": round(high, 2)}


def variant_figures(*, actual, served, variant, sex, clusters=None, seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """A variant's MAE and bias overall and by sex, its calibration by sex, and the paired difference against the served model."""
    actual, variant, sex = np.asarray(actual, dtype="float64"), np.asarray(variant, dtype="float64"), np.asarray(sex, dtype=str)
    error = actual - variant
    groups = sorted(set(sex.tolist()))
    return {
        "mae": round(float(np.abs(error).mean()), 2),
        "bias": round(float(error.mean()), 2),
        "mae_by_sex": {group: round(float(np.abs(error[sex == group]).mean()), 2) for group in groups},
        "bias_by_sex": {group: round(float(error[sex == group].mean()), 2) for group in groups},
        "calibration_by_sex": {
            group: round(float(variant[sex == group].sum() / actual[sex == group].sum()), 4) for group in groups
        },
        "difference": paired_difference(actual=actual, served=served, variant=variant, clusters=clusters, seed=seed),
    }


def auc(labels, scores) -> float:
    """The area under the ROC curve of scores for the positive label (1): the Mann–Whitney U over n₁·n₀, ties halved."""
    from scipy.stats import rankdata

    labels, scores = np.asarray(labels, dtype=bool), np.asarray(scores, dtype="float64")
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        raise ValueError("the AUC needs both labels")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def mean_abs_gap(first, second, sex) -> dict[str, Any]:
    """Mean |first − second| overall and by sex (the unaware and the discrimination-free estimates)."""
    gap, sex = np.abs(np.asarray(first, dtype="float64") - np.asarray(second, dtype="float64")), np.asarray(sex, dtype=str)
    return {
        "overall": round(float(gap.mean()), 2),
        "by_sex": {group: round(float(gap[sex == group].mean()), 2) for group in sorted(set(sex.tolist()))},
    }
