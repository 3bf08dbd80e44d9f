"""Champion against challenger on the same rows: paired differences of absolute errors, by rule.

For each row with an actual charge ``y`` and both versions' estimates, d = |y − challenger| −
|y − champion| (dollars; negative: the challenger erred less). The figures:

- each version's MAE, RMSE, bias (y − estimate, with its t interval), 90% interval coverage with
  its Wilson interval, and mean interval width;
- the mean of d with its 95% t interval and the paired t test's two-sided p value, which is the
  Diebold–Mariano test for absolute loss at horizon 1 with the Harvey–Leybourne–Newbold correction;
- the MAE ratio (challenger / champion) with a seeded paired percentile bootstrap 95% interval:
  each resample draws the same rows for both versions (``rng.integers(0, n, (B, n))``, as
  ``scipy.stats.bootstrap(..., paired=True, method="percentile")`` draws them); B is 2,000 up to
  20,000 rows, then fewer (``bootstrap_resamples``);
- the same difference by segment where a segment has at least ``MIN_ROWS`` rows, its p value
  Holm-adjusted over the segments shown, its interval at the level Holm's step uses for it:
  1 − 0.05 / (m − r + 1), m segments shown, r its rank by unadjusted p value (1 the smallest);
- the verdict by ``RULE``.

Numbers only: no database, no Django. NumPy, and scipy for the t distribution.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .stats import CONFIDENCE, COVERAGE_FLOOR, MIN_ACTUALS, wilson_interval

# A comparison, and a segment's row of it, needs at least this many rows.
MIN_ROWS = MIN_ACTUALS
# The challenger's 90% interval must hold between these shares of the actual charges.
COVERAGE_CEILING = 0.93
BOOTSTRAP_RESAMPLES = 2000
SEED = 20260
# Rows resampled per bootstrap batch: memory stays near BOOTSTRAP_BATCH_CELLS integers.
BOOTSTRAP_BATCH_CELLS = 20_000_000
# Rows drawn in all: past BOOTSTRAP_MAX_DRAWS / BOOTSTRAP_RESAMPLES rows (20,000), fewer resamples, never
# under BOOTSTRAP_MIN_RESAMPLES, so that a page stays quick (the draws cost ~30 ns each here).
BOOTSTRAP_MAX_DRAWS = 40_000_000
BOOTSTRAP_MIN_RESAMPLES = 200
# A segment is under-represented when its share of predictions with an actual charge is below this
# fraction of the overall share, beyond chance (the Wilson upper bound of its share is below it too).
REPRESENTATION_RATIO = 0.8
VERDICT_LABELS = {"better": "better", "not_worse": "not worse", "worse": "worse", "not_enough_evidence": "not enough evidence"}

RULE = (
    "d = |actual − challenger| − |actual − champion| for each prediction with an actual charge and both "
    "versions' answers. Better: the 95% interval of the mean of d lies wholly below $0. Not worse: it lies "
    "wholly below the margin (${margin:,.0f} a patient). Either also needs no segment (at least {min_rows} rows) "
    "whose Holm-adjusted interval lies wholly above the margin, and the challenger's 90% interval coverage "
    "between {floor:.0%} and {ceiling:.0%}; otherwise worse. Worse, too: the interval lies wholly above $0 "
    "without being below the margin, or a segment's adjusted interval lies wholly above the margin. "
    "Not enough evidence: fewer than {min_rows} rows, or an interval that reaches the margin and $0 both."
)


def rule_words(margin: float) -> str:
    """The verdict's rule in words, with the margin in dollars."""
    return RULE.format(margin=margin, min_rows=MIN_ROWS, floor=COVERAGE_FLOOR, ceiling=COVERAGE_CEILING)


@dataclass(frozen=True)
class Answers:
    """One version's answers on the compared rows: estimates, and the 90% interval's ends (NaN where none)."""

    name: str
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray


def _t(n: int):
    from scipy.stats import t

    return t(n - 1)


def mean_difference(d: np.ndarray, confidence: float = CONFIDENCE) -> dict[str, Any]:
    """The mean of paired differences, its t interval at ``confidence`` and the two-sided p value of mean 0."""
    n = len(d)
    mean = float(np.mean(d)) if n else None
    if n < 2:
        return {"mean": mean, "low": None, "high": None, "p_value": None}
    sd = float(np.std(d, ddof=1))
    if sd == 0.0:  # every difference the same: the interval is that value, and it is 0 or it is not
        return {"mean": mean, "low": mean, "high": mean, "p_value": 1.0 if mean == 0 else 0.0}
    error = sd / math.sqrt(n)
    dist = _t(n)
    half = float(dist.ppf(0.5 + confidence / 2)) * error
    p_value = float(2 * dist.sf(abs(mean) / error))
    return {"mean": mean, "low": mean - half, "high": mean + half, "p_value": p_value}


def holm(p_values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Holm's step-down: the adjusted p values, and each test's rank by unadjusted p value (1 the smallest)."""
    p = np.asarray(p_values, dtype="float64")
    m = len(p)
    order = np.argsort(p, kind="stable")
    steps = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(steps)
    ranks = np.empty(m, dtype=int)
    ranks[order] = np.arange(1, m + 1)
    return adjusted, ranks


def bootstrap_resamples(n: int) -> int:
    """The resamples for n rows: BOOTSTRAP_RESAMPLES up to 20,000 rows, then fewer (BOOTSTRAP_MAX_DRAWS in all), at least 200."""
    return max(BOOTSTRAP_MIN_RESAMPLES, min(BOOTSTRAP_RESAMPLES, BOOTSTRAP_MAX_DRAWS // max(n, 1)))


def mae_ratio(champion_abs: np.ndarray, challenger_abs: np.ndarray, *, seed: int = SEED, resamples: int | None = None) -> dict:
    """The MAE ratio challenger / champion with a paired percentile bootstrap 95% interval (the same rows for both)."""
    n = len(champion_abs)
    resamples = bootstrap_resamples(n) if resamples is None else resamples
    value = float(np.mean(challenger_abs) / np.mean(champion_abs)) if n and np.mean(champion_abs) > 0 else None
    if value is None or n < 2:
        return {"value": value, "low": None, "high": None, "resamples": 0, "seed": seed}
    rng = np.random.default_rng(seed)
    batch = max(1, BOOTSTRAP_BATCH_CELLS // n)
    ratios = []
    for start in range(0, resamples, batch):
        rows = rng.integers(0, n, (min(batch, resamples - start), n))
        with np.errstate(divide="ignore", invalid="ignore"):  # a resample of only exact answers: as scipy's, inf
            ratios.append(challenger_abs[rows].mean(axis=1) / champion_abs[rows].mean(axis=1))
    ratios = np.concatenate(ratios)
    tail = (1 - CONFIDENCE) / 2
    low, high = np.percentile(ratios, [tail * 100, (1 - tail) * 100])
    return {"value": value, "low": float(low), "high": float(high), "resamples": resamples, "seed": seed}


def version_figures(actual: np.ndarray, answers: Answers) -> dict[str, Any]:
    """MAE, RMSE, bias (actual − estimate) with its t interval, coverage with its Wilson interval, mean interval width."""
    error = actual - answers.estimate
    bias = mean_difference(error)
    has_interval = ~(np.isnan(answers.low) | np.isnan(answers.high))
    interval_n = int(has_interval.sum())
    coverage = width = None
    if interval_n:
        inside = int(((answers.low <= actual) & (actual <= answers.high))[has_interval].sum())
        wilson = wilson_interval(inside, interval_n)
        coverage = {"rate": wilson.value, "low": wilson.low, "high": wilson.high, "n": interval_n}
        width = _cents(float(np.mean((answers.high - answers.low)[has_interval])))
    return {
        "name": answers.name,
        "mae": _cents(float(np.mean(np.abs(error)))),
        "rmse": _cents(math.sqrt(float(np.mean(error * error)))),
        "bias": {key: _cents(bias[key]) for key in ("mean", "low", "high")},
        "coverage": coverage,
        "mean_interval_width": width,
    }


def segment_differences(
    d: np.ndarray, segments: Mapping[str, Sequence[str]], orders: Mapping[str, Sequence[str]] | None = None
) -> list[dict[str, Any]]:
    """The mean difference in each segment of at least MIN_ROWS rows, Holm-adjusted over them (see the module).

    ``segments`` holds each dimension's label of every row; ``orders`` the order of a dimension's groups
    (default: sorted)."""
    shown = []
    for dimension, labels in segments.items():
        labels = np.asarray(labels)
        present = set(labels.tolist())
        order = [group for group in (orders or {}).get(dimension, ()) if group in present]
        for group in order + sorted(present - set(order)):
            rows = labels == group
            if rows.sum() >= MIN_ROWS:
                shown.append((dimension, group, d[rows]))
    if not shown:
        return []
    raw = [mean_difference(part)["p_value"] for _, _, part in shown]
    adjusted, ranks = holm(raw)
    result = []
    for (dimension, group, part), p_adjusted, rank in zip(shown, adjusted, ranks):
        level = 1 - (1 - CONFIDENCE) / (len(shown) - rank + 1)
        figures = mean_difference(part, confidence=level)
        result.append({
            "dimension": dimension,
            "group": group,
            "n": len(part),
            "difference": {
                "mean": _cents(figures["mean"]), "low": _cents(figures["low"]), "high": _cents(figures["high"]),
                "p_value": float(p_adjusted), "p_value_unadjusted": figures["p_value"], "level": level,
            },
        })
    return result


def verdict(*, n: int, difference: Mapping[str, Any], segments: Sequence[Mapping[str, Any]],
            coverage: Mapping[str, Any] | None, margin: float) -> tuple[str, list[str]]:
    """The verdict by ``RULE`` and the reasons for it, in words."""
    if n < MIN_ROWS or difference["low"] is None:
        return "not_enough_evidence", [f"{n:,} rows compared: at least {MIN_ROWS} are needed."]
    low, high = difference["low"], difference["high"]
    span = f"The mean difference's 95% interval is [{_money(low)}, {_money(high)}]"
    harmed = [
        f"{part['dimension']} {part['group']}: its adjusted interval [{_money(part['difference']['low'])}, "
        f"{_money(part['difference']['high'])}] lies wholly above the ${margin:,.0f} margin."
        for part in segments
        if part["difference"]["low"] is not None and part["difference"]["low"] > margin
    ]
    if high < margin:
        miscalibrated = []
        if coverage is None:
            miscalibrated.append("The challenger has no 90% interval, so its coverage cannot be checked.")
        elif not COVERAGE_FLOOR <= coverage["rate"] <= COVERAGE_CEILING:
            miscalibrated.append(
                f"The challenger's 90% interval holds {coverage['rate']:.1%} of the actual charges, "
                f"outside {COVERAGE_FLOOR:.0%}–{COVERAGE_CEILING:.0%}."
            )
        if harmed or miscalibrated:
            return "worse", [f"{span}, below the margin, but:", *harmed, *miscalibrated]
        if high < 0:
            return "better", [f"{span}: wholly below $0 (the challenger's errors are smaller)."]
        return "not_worse", [f"{span}: wholly below the ${margin:,.0f} margin."]
    if low > 0:
        also = [f"{len(harmed)} segment{'s' if len(harmed) != 1 else ''} of {len(segments)} shown also lie{'' if len(harmed) != 1 else 's'} "
                f"wholly above the ${margin:,.0f} margin."] if harmed else []
        return "worse", [f"{span}: wholly above $0 (the challenger's errors are larger) and not below the margin.", *also]
    if harmed:
        return "worse", harmed
    return "not_enough_evidence", [f"{span}: it reaches both $0 and the ${margin:,.0f} margin."]


def comparison(*, actual, champion: Answers, challenger: Answers, segments: Mapping[str, Sequence[str]],
               margin: float, orders: Mapping[str, Sequence[str]] | None = None,
               seed: int = SEED, resamples: int | None = None) -> dict[str, Any]:
    """The comparison's figures (``compare_models --json`` holds them) from the rows in memory."""
    actual = np.asarray(actual, dtype="float64")
    champion_abs = np.abs(actual - champion.estimate)
    challenger_abs = np.abs(actual - challenger.estimate)
    d = challenger_abs - champion_abs
    overall = mean_difference(d)
    difference = {key: _cents(overall[key]) for key in ("mean", "low", "high")} | {"p_value": overall["p_value"]}
    shown = segment_differences(d, segments, orders)
    challenger_figures = version_figures(actual, challenger)
    chosen, reasons = verdict(n=len(d), difference=difference, segments=shown, coverage=challenger_figures["coverage"], margin=margin)
    return {
        "n": len(d),
        "champion": version_figures(actual, champion),
        "challenger": challenger_figures,
        "difference": difference,
        "mae_ratio": mae_ratio(champion_abs, challenger_abs, seed=seed, resamples=resamples),
        "segments": shown,
        "verdict": chosen,
        "reasons": reasons,
        "margin": margin,
        "rule": rule_words(margin),
    }


def representation(groups: Sequence[tuple[str, str, int, int]], *, predictions: int, with_actual: int) -> list[dict[str, Any]]:
    """Each segment's share of predictions that has an actual charge, and whether the actuals under-represent it.

    ``groups`` holds (dimension, group, predictions, of them with an actual charge). A segment is
    under-represented when its share is below REPRESENTATION_RATIO of the overall share and so is its
    Wilson 95% upper bound (not a chance shortfall of a small segment).
    """
    overall = with_actual / predictions if predictions else 0.0
    rows = []
    for dimension, group, count, actuals in groups:
        share = wilson_interval(actuals, count) if count else None
        under = bool(share is not None and overall > 0 and share.high < REPRESENTATION_RATIO * overall)
        rows.append({
            "dimension": dimension, "group": group, "predictions": count, "with_actual": actuals,
            "share": None if share is None else share.value, "under_represented": under,
        })
    return rows


def _cents(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _money(value: float) -> str:
    return f"{'-' if value < 0 else ''}${abs(value):,.2f}"
