"""Charges as a distribution: each patient's, and the exact distribution of a cohort's total.

A patient's yearly charges are the served estimate plus a residual drawn from the 10-fold
out-of-fold residuals of the training part in the patient's interval group (the residuals the
90% interval is calibrated on, kept in the model card). So a patient's expected charges are the
estimate plus the group's mean residual, and any quantile is the estimate plus that quantile
of the residuals. Charges are skewed (about one patient in ten carries a surprise of $5k-$26k
that no input predicts), so the mean sits above the served estimate.

A cohort's total is the sum of its patients' estimates, plus the sum of their residuals
(independent from patient to patient: member-level noise, which averages out), plus one model
error shared by every patient (which does not average out). The model error has two parts, both
estimated from finite data: the estimator's coefficients (the deviation of a bootstrap refit from
the refits' mean, summed over the cohort) and each group's mean residual (the deviation of a
bootstrap resample's mean, times the cohort's patients in the group). The refits are kept in the
card as coefficients on ``BASIS``, the raw-input moments the pipeline is linear in, so a cohort
needs only its column sums of the basis (``basis_sums``), from NumPy or from PostgreSQL, and its
patients per group.

The distribution of the total is computed exactly rather than sampled: the sum of n draws from
a group's residuals is the n-th convolution power of their distribution, computed on a lattice
by FFT with binary powers (a 100,000-patient cohort needs 17 squarings). Atoms and sums are put
on the lattice by splitting each mass between its two neighbouring points, which keeps the mean
exact and adds at most (step/2)² of variance per regridding, with the step a 4,000th of the
support. The lattice is trimmed of tails lighter than 1e-13. Tests compare it with brute-force
seeded Monte Carlo and with enumeration. ``sample`` draws from it (seeded) for the chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..features import OBESITY_BMI

# Points of a lattice after regridding: the step is about a 4,000th of the support.
LATTICE_POINTS = 4096
# Mass below this in either tail is dropped after each convolution (FFT round-off is ~1e-16).
TAIL_MASS = 1e-13

# The central ranges reported for a total: level -> (lower quantile, upper quantile).
RANGES = {"50": (0.25, 0.75), "80": (0.10, 0.90), "90": (0.05, 0.95)}

# The raw-input moments the pipeline's estimate is linear in (its feature step adds age², the
# obesity flag and the smoker interactions; its encoders and scaler are affine). The first is the
# patient count, so a cohort's sums of these columns give the sum of its estimates.
BASIS = (
    "count", "age", "age_squared", "bmi", "children", "male", "smoker",
    "northwest", "southeast", "southwest", "obese", "smoker_obese", "smoker_bmi",
)


class NoDistribution(Exception):
    """A model card without a predictive distribution (versions trained before forecasts)."""


# ---------------------------------------------------------------------------
# Distributions on a lattice


@dataclass(frozen=True)
class Lattice:
    """A distribution on the points ``origin + step * k`` (k = 0 .. len(mass) - 1), masses summing to 1."""

    origin: float
    step: float
    mass: np.ndarray = field(repr=False)

    @property
    def values(self) -> np.ndarray:
        return self.origin + self.step * np.arange(len(self.mass))

    def mean(self) -> float:
        return float(self.values @ self.mass / self.mass.sum())

    def variance(self) -> float:
        values, mass = self.values, self.mass / self.mass.sum()
        centre = values @ mass
        return float(((values - centre) ** 2) @ mass)

    def cdf(self) -> np.ndarray:
        cumulative = np.cumsum(self.mass)
        return cumulative / cumulative[-1]

    def quantile(self, p: float | Sequence[float]) -> np.ndarray:
        """The smallest lattice value whose cumulative mass reaches p (numpy's "inverted_cdf")."""
        index = np.searchsorted(self.cdf(), np.asarray(p, dtype="float64") - 1e-12, side="left")
        return self.origin + self.step * np.minimum(index, len(self.mass) - 1)

    def shifted(self, amount: float) -> Lattice:
        return Lattice(self.origin + amount, self.step, self.mass)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Seeded draws from the distribution (by its inverse CDF)."""
        index = np.searchsorted(self.cdf(), rng.random(size), side="right")
        return self.origin + self.step * np.minimum(index, len(self.mass) - 1)


POINT_MASS = Lattice(0.0, 1.0, np.ones(1))


def _split_onto(positions: np.ndarray, weights: np.ndarray, length: int) -> np.ndarray:
    """Masses at fractional lattice positions, each split between its two neighbours (keeps the mean)."""
    if length == 1:
        return np.array([weights.sum()])
    positions = np.clip(positions, 0.0, length - 1)
    below = np.minimum(np.floor(positions).astype(np.int64), length - 2)
    above_share = positions - below
    return (np.bincount(below, weights * (1.0 - above_share), minlength=length)
            + np.bincount(below + 1, weights * above_share, minlength=length))


def lattice_from_atoms(atoms: Sequence[float], weights: Sequence[float] | None = None,
                       points: int = LATTICE_POINTS) -> Lattice:
    """An empirical distribution (equal weights unless given) on a lattice spanning its atoms."""
    atoms = np.asarray(atoms, dtype="float64")
    weights = np.full(len(atoms), 1.0 / len(atoms)) if weights is None else np.asarray(weights, dtype="float64")
    low, high = float(atoms.min()), float(atoms.max())
    if high == low:
        return Lattice(low, 1.0, np.array([weights.sum()]))
    step = (high - low) / (points - 1)
    return Lattice(low, step, _split_onto((atoms - low) / step, weights, points))


def _regrid(lattice: Lattice, step: float) -> Lattice:
    """The same distribution on a coarser lattice (same origin), each mass split between its neighbours."""
    if step <= lattice.step:
        return lattice
    positions = np.arange(len(lattice.mass)) * (lattice.step / step)
    length = int(math.ceil(positions[-1] - 1e-9)) + 1
    return Lattice(lattice.origin, step, _split_onto(positions, lattice.mass, length))


def _trim(lattice: Lattice) -> Lattice:
    """Drop tails lighter than TAIL_MASS and FFT round-off below zero."""
    mass = np.clip(lattice.mass, 0.0, None)
    cumulative = np.cumsum(mass)
    total = cumulative[-1]
    first = int(np.searchsorted(cumulative, TAIL_MASS * total, side="right"))
    last = int(np.searchsorted(cumulative, total * (1 - TAIL_MASS), side="left"))
    first, last = min(first, len(mass) - 1), min(max(last, first), len(mass) - 1)
    return Lattice(lattice.origin + first * lattice.step, lattice.step, mass[first : last + 1])


def convolve(a: Lattice, b: Lattice, points: int = LATTICE_POINTS) -> Lattice:
    """The distribution of the sum of two independent lattice variables, regridded to at most ``points``."""
    if len(a.mass) == 1:
        return Lattice(a.origin + b.origin, b.step, b.mass * a.mass[0])
    if len(b.mass) == 1:
        return Lattice(a.origin + b.origin, a.step, a.mass * b.mass[0])
    step = max(a.step, b.step)
    a, b = _regrid(a, step), _regrid(b, step)
    length = len(a.mass) + len(b.mass) - 1
    size = 1 << (length - 1).bit_length()
    mass = np.fft.irfft(np.fft.rfft(a.mass, size) * np.fft.rfft(b.mass, size), size)[:length]
    total = _trim(Lattice(a.origin + b.origin, step, mass))
    if len(total.mass) > points:
        total = _trim(_regrid(total, total.step * (len(total.mass) - 1) / (points - 1)))
    return total


class SumOfDraws:
    """The distribution of the sum of n independent draws from one distribution, for any n.

    Binary powers: the squares (1, 2, 4, ... draws) are kept, so cohorts and breakdown cells
    drawing from the same group share them.
    """

    def __init__(self, one: Lattice, points: int = LATTICE_POINTS):
        self.points = points
        self._squares = [one]

    def _square(self, k: int) -> Lattice:
        while len(self._squares) <= k:
            last = self._squares[-1]
            self._squares.append(convolve(last, last, self.points))
        return self._squares[k]

    def of(self, n: int) -> Lattice:
        total = POINT_MASS
        k = 0
        while n:
            if n & 1:
                total = convolve(total, self._square(k), self.points)
            n >>= 1
            k += 1
        return total


# ---------------------------------------------------------------------------
# The basis: raw inputs to the moments the estimate is linear in


def basis_rows(*, age, sex, bmi, children, smoker, region, obesity_bmi: float = OBESITY_BMI) -> np.ndarray:
    """One row of ``BASIS`` per patient, from arrays of raw inputs (choices as the form's words)."""
    age = np.asarray(age, dtype="float64")
    bmi = np.asarray(bmi, dtype="float64")
    smoker = (np.asarray(smoker) == "yes").astype("float64")
    region = np.asarray(region)
    obese = (bmi > obesity_bmi).astype("float64")
    return np.column_stack([
        np.ones_like(age), age, age * age, bmi, np.asarray(children, dtype="float64"),
        (np.asarray(sex) == "male").astype("float64"), smoker,
        (region == "northwest").astype("float64"), (region == "southeast").astype("float64"),
        (region == "southwest").astype("float64"), obese, smoker * obese, smoker * bmi,
    ])


def basis_sums(*, count: float, sum_age: float, sum_age_squared: float, sum_bmi: float, sum_children: float,
               sex: str, smoker: str, region: str, obese: bool) -> np.ndarray:
    """The column sums of ``BASIS`` over patients who share sex, smoker, region and obesity, from their sums."""
    is_smoker = 1.0 if smoker == "yes" else 0.0
    is_obese = 1.0 if obese else 0.0
    return np.array([
        count, sum_age, sum_age_squared, sum_bmi, sum_children,
        count * (sex == "male"), count * is_smoker,
        count * (region == "northwest"), count * (region == "southeast"), count * (region == "southwest"),
        count * is_obese, count * is_smoker * is_obese, is_smoker * sum_bmi,
    ], dtype="float64")


def interval_group_of(smoker: str, obese: bool) -> str:
    """The interval group (see ``interval.interval_group``) of a smoker status and obesity flag."""
    return f"{'smoker' if smoker == 'yes' else 'non_smoker'}_{'obese' if obese else 'not_obese'}"


# ---------------------------------------------------------------------------
# The predictive model of a card


@dataclass
class PredictiveDistribution:
    """What a forecast needs from a model: the estimate on ``BASIS``, the residuals by group, the refits."""

    coef: np.ndarray  # the served estimate is basis_rows(...) @ coef
    residuals: dict[str, np.ndarray]  # by interval group, sorted
    deviations: np.ndarray  # (refits, len(BASIS)): each refit's coefficients less the refits' mean
    mean_deviations: dict[str, np.ndarray]  # by group, (refits,): each resample's mean residual less their mean
    interval_offsets: dict[str, tuple[float, float]] = field(default_factory=dict)
    points: int = LATTICE_POINTS
    _sums: dict[str, SumOfDraws] = field(default_factory=dict, repr=False)

    @classmethod
    def from_card(cls, card: Mapping[str, Any]) -> PredictiveDistribution:
        part = card.get("distribution")
        if not part:
            raise NoDistribution(f"The model card of {card.get('name')} has no predictive distribution.")
        if tuple(part["basis"]) != BASIS:
            raise NoDistribution(f"The distribution of {card.get('name')} uses another basis: {part['basis']}.")
        offsets = {
            group: (float(values["low"]), float(values["high"]))
            for group, values in card.get("interval", {}).get("groups", {}).items()
        }
        return cls(
            coef=np.asarray(part["coef"], dtype="float64"),
            residuals={group: np.sort(np.asarray(values, dtype="float64")) for group, values in part["residuals"].items()},
            deviations=np.asarray(part["model_error"]["coef_deviations"], dtype="float64"),
            mean_deviations={
                group: np.asarray(values, dtype="float64") for group, values in part["model_error"]["mean_deviations"].items()
            },
            interval_offsets=offsets,
        )

    # One patient

    def patient_mean(self, estimate: float, group: str) -> float:
        """A patient's expected charges: the estimate plus the group's mean residual."""
        return estimate + float(self.residuals[group].mean())

    def patient_quantile(self, estimate: float, group: str, p: float | Sequence[float]) -> np.ndarray:
        """Quantiles of a patient's charges: the estimate plus those of the group's residuals (inverted CDF)."""
        return estimate + np.quantile(self.residuals[group], p, method="inverted_cdf")

    # A cohort, from its basis sums and its patients per group

    def point_sum(self, sums: np.ndarray) -> float:
        """The sum of the served estimates."""
        return float(sums @ self.coef)

    def expected_total(self, sums: np.ndarray, counts: Mapping[str, int]) -> float:
        """The exact expected total: estimates plus each group's mean residual times its patients."""
        return self.point_sum(sums) + sum(n * float(self.residuals[g].mean()) for g, n in counts.items() if n)

    def model_error(self, sums: np.ndarray, counts: Mapping[str, int]) -> np.ndarray:
        """The model error of this cohort's total under each refit (mean zero): coefficients and mean residuals."""
        error = self.deviations @ sums
        for group, n in counts.items():
            if n:
                error = error + n * self.mean_deviations[group]
        return error

    def total(self, sums: np.ndarray, counts: Mapping[str, int]) -> Lattice:
        """The distribution of the cohort's total charges."""
        total = POINT_MASS
        for group in sorted(counts):
            if counts[group]:
                if group not in self._sums:
                    self._sums[group] = SumOfDraws(lattice_from_atoms(self.residuals[group], points=self.points), self.points)
                total = convolve(total, self._sums[group].of(int(counts[group])), self.points)
        if len(self.deviations):
            total = convolve(total, lattice_from_atoms(self.model_error(sums, counts), points=self.points), self.points)
        return total.shifted(self.point_sum(sums))

    def naive_interval_sum(self, sums: np.ndarray, counts: Mapping[str, int]) -> tuple[float, float]:
        """The sum of the patients' 90% intervals (the $0 floor of each not applied)."""
        point = self.point_sum(sums)
        low = point + sum(n * self.interval_offsets[g][0] for g, n in counts.items())
        high = point + sum(n * self.interval_offsets[g][1] for g, n in counts.items())
        return low, high

    def summary(self, sums: np.ndarray, counts: Mapping[str, int]) -> TotalForecast:
        """The figures of a cohort: expected and median totals, the 50/80/90% ranges, the naive interval sum."""
        total = self.total(sums, counts)
        quantiles = total.quantile([0.5, *(p for pair in RANGES.values() for p in pair)])
        ranges = {level: [float(quantiles[1 + 2 * i]), float(quantiles[2 + 2 * i])] for i, level in enumerate(RANGES)}
        return TotalForecast(
            patients=int(round(sums[0])),
            point_sum=self.point_sum(sums),
            expected_total=self.expected_total(sums, counts),
            median_total=float(quantiles[0]),
            ranges=ranges,
            naive_interval_sum=list(self.naive_interval_sum(sums, counts)) if self.interval_offsets else None,
            distribution=total,
        )


@dataclass(frozen=True)
class TotalForecast:
    """A cohort's total: its figures (dollars; ranges by level "50", "80", "90" as [low, high]) and its distribution."""

    patients: int
    point_sum: float
    expected_total: float
    median_total: float
    ranges: dict[str, list[float]]
    naive_interval_sum: list[float] | None
    distribution: Lattice = field(repr=False)
