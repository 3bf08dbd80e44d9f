"""Fitting a model's predictive distribution, and measuring how well it is calibrated on repeated splits.

``distribution_fit`` writes the card's ``distribution``: the fitted pipeline's estimate as
coefficients on ``forecast.BASIS`` (checked equal to the pipeline's own ``predict``), the
out-of-fold residuals by interval group, and the model error (bootstrap refits of the estimator
with the pipeline's fitted preprocessing held fixed, and bootstrap resamples of each group's
residuals for its mean).

``repeated_split_calibration`` measures the whole method where no fitting looked: on each of
``repetitions`` random 70/30 splits the chosen pipeline (PyCaret's preprocessing, cloned, and the
same estimator) is refitted on the 70%, the interval offsets come from its 10-fold out-of-fold
residuals, the distribution is fitted as above, and random cohorts of 25 and of 100 patients are
drawn from the 30%: how often the 50% and 90% ranges of their total held the actual total, and
the expected total's error; and how often each group's 90% interval held a single patient.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..features import FEATURES
from .forecast import BASIS, PredictiveDistribution, basis_rows
from .interval import ALPHA, conformal_offsets, interval_group

# Bootstrap refits of the estimator (and resamples of the residuals) for the model error.
REFITS = 100
REPETITIONS = 20
COHORT_SIZES = (25, 100)
COHORTS_PER_REPETITION = 200
# How far the served estimate on the basis may be from the pipeline's predict, per patient.
SERVED_TOLERANCE = 0.01
# The refits (the calibration's and the bootstrap's) have the served pipeline's steps, whose
# linearity in the basis is checked to the cent above. But least squares on the four one-hot regions
# (which sum to the intercept) reaches coefficients of 1e16 on some samples, and then a refit's own
# answers carry round-off of up to ~$150 (the largest seen is kept in the card as ``refit_roundoff``);
# fitted over a thousand rows, the coefficients on the basis average it out. This only guards
# against the absurd.
REFIT_TOLERANCE = 1000.0


# The form's ranges (predictor.forms.LIMITS; ml/ imports nothing of the app), for the check on random inputs.
INPUT_RANGES = {"age": (18, 100), "bmi": (10.0, 70.0), "children": (0, 10)}


class NotLinearInBasis(ValueError):
    """The pipeline's estimate is not linear in the forecast basis (another estimator or feature step)."""


def basis_of(frame) -> np.ndarray:
    """``forecast.basis_rows`` of a DataFrame of raw inputs."""
    return basis_rows(**{name: frame[name].to_numpy() for name in FEATURES})


def groups_of(frame) -> np.ndarray:
    """The interval group of each row of a DataFrame of raw inputs."""
    return np.array([interval_group(row) for row in frame[list(FEATURES)].to_dict("records")])


def linear_coefficients(basis: np.ndarray, answers: np.ndarray, *, tolerance: float, what: str) -> tuple[np.ndarray, float]:
    """The coefficients on the basis that reproduce the answers, and the largest difference; or NotLinearInBasis."""
    coef = np.linalg.lstsq(basis, answers, rcond=None)[0]
    return coef, linear_check(basis, answers, coef, tolerance=tolerance, what=what)


def linear_check(basis: np.ndarray, answers: np.ndarray, coef: np.ndarray, *, tolerance: float, what: str) -> float:
    """The largest difference between the answers and the basis times the coefficients; NotLinearInBasis over the tolerance."""
    worst = float(np.abs(basis @ coef - answers).max())
    if worst > tolerance:
        raise NotLinearInBasis(
            f"{what} is not linear in the forecast basis ({', '.join(BASIS)}): off by up to ${worst:,.2f}; "
            "forecasts need a linear estimator on these features."
        )
    return worst


def random_inputs(rng: np.random.Generator, size: int):
    """Random valid inputs across the form's ranges (extrapolations included), as a DataFrame."""
    import pandas as pd

    return pd.DataFrame({
        "age": rng.integers(INPUT_RANGES["age"][0], INPUT_RANGES["age"][1] + 1, size),
        "sex": rng.choice(["female", "male"], size),
        "bmi": np.round(rng.uniform(*INPUT_RANGES["bmi"], size), 2),
        "children": rng.integers(INPUT_RANGES["children"][0], INPUT_RANGES["children"][1] + 1, size),
        "smoker": rng.choice(["yes", "no"], size),
        "region": rng.choice(["northeast", "northwest", "southeast", "southwest"], size),
    })


def model_error_fit(fitted_pipeline, X, y, residuals: dict[str, np.ndarray], *, refits: int,
                    rng: np.random.Generator, tolerance: float = REFIT_TOLERANCE) -> dict[str, Any]:
    """Bootstrap refits of the estimator on the fitted preprocessing's features, as deviations on the basis,
    and bootstrap resamples of each group's residuals, as deviations of their mean."""
    from sklearn.base import clone

    estimator = fitted_pipeline.steps[-1][1]
    features = np.asarray(fitted_pipeline[:-1].transform(X), dtype="float64")
    basis = basis_of(X)
    y = np.asarray(y, dtype="float64")
    coefs, means, roundoff = [], {group: [] for group in residuals}, 0.0
    for refit in range(refits):
        rows = rng.integers(0, len(y), len(y))
        model = clone(estimator).fit(features[rows], y[rows])
        coef, worst = linear_coefficients(basis, model.predict(features), tolerance=tolerance, what=f"Bootstrap refit {refit}")
        coefs.append(coef)
        roundoff = max(roundoff, worst)
        for group, values in residuals.items():
            means[group].append(float(values[rng.integers(0, len(values), len(values))].mean()))
    coefs = np.array(coefs)
    return {
        "coef_deviations": coefs - coefs.mean(axis=0),
        "mean_deviations": {group: np.array(values) - np.mean(values) for group, values in means.items()},
        "refit_roundoff": roundoff,
    }


def distribution_build(*, coef: np.ndarray, residuals: dict[str, np.ndarray], model_error: dict[str, Any],
                       interval_groups: dict[str, dict[str, float]]) -> PredictiveDistribution:
    """The PredictiveDistribution of fitted parts (what ``PredictiveDistribution.from_card`` reads back)."""
    return PredictiveDistribution(
        coef=np.asarray(coef, dtype="float64"),
        residuals={group: np.sort(values) for group, values in residuals.items()},
        deviations=model_error["coef_deviations"],
        mean_deviations=model_error["mean_deviations"],
        interval_offsets={group: (offsets["low"], offsets["high"]) for group, offsets in interval_groups.items()},
    )


def distribution_fit(fitted_pipeline, X, y, residuals: dict[str, np.ndarray], *, refits: int = REFITS,
                     seed: int) -> dict[str, Any]:
    """The card's ``distribution`` for a pipeline fitted on (X, y), with the out-of-fold residuals by group."""
    basis = basis_of(X)
    coef, _ = linear_coefficients(basis, fitted_pipeline.predict(X), tolerance=SERVED_TOLERANCE, what="The pipeline")
    check = random_inputs(np.random.default_rng(seed), 2000)
    linear_check(basis_of(check), fitted_pipeline.predict(check), coef, tolerance=SERVED_TOLERANCE,
                 what="The pipeline on random inputs")
    model_error = model_error_fit(fitted_pipeline, X, y, residuals, refits=refits, rng=np.random.default_rng(seed))
    return {
        "method": "the estimate plus a residual drawn from the patient's interval group; a cohort's total adds "
        "one model error shared by every patient (bootstrap refits of the estimator with the fitted "
        "preprocessing held fixed, and bootstrap resamples of each group's mean residual); computed exactly by "
        "convolution on a lattice",
        "basis": list(BASIS),
        "coef": [float(value) for value in coef],
        "residuals_from": "10-fold out-of-fold residuals of the 70% training part (those the interval is calibrated on)",
        "residuals": {group: [round(float(value), 2) for value in np.sort(values)] for group, values in residuals.items()},
        "model_error": {
            "refits": refits,
            "rows": int(len(X)),
            "seed": seed,
            "refit_roundoff": round(model_error["refit_roundoff"], 2),
            "coef_deviations": [[float(value) for value in row] for row in model_error["coef_deviations"]],
            "mean_deviations": {
                group: [round(float(value), 4) for value in values] for group, values in model_error["mean_deviations"].items()
            },
        },
    }


def _ci95(values: np.ndarray) -> list[float]:
    half = 1.96 * float(values.std(ddof=1)) / np.sqrt(len(values)) if len(values) > 1 else 0.0
    return [round(float(values.mean()) - half, 4), round(float(values.mean()) + half, 4)]


def repeated_split_calibration(
    data,
    *,
    pipeline_template,
    estimator,
    fold_generator,
    target: str,
    test_fraction: float,
    seed: int,
    repetitions: int = REPETITIONS,
    refits: int = REFITS,
    cohort_sizes: Sequence[int] = COHORT_SIZES,
    cohorts: int = COHORTS_PER_REPETITION,
    progress: Callable[[int], None] | None = None,
    on_split: Callable[..., None] | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(cohort_calibration, interval_calibration) over repeated random splits; see the module docstring.

    ``on_split(repetition, X_train, y_train, X_test, y_test, fitted_pipeline, offsets)``, when given, sees each split."""
    from sklearn.base import clone
    from sklearn.model_selection import cross_val_predict, train_test_split

    X, y = data[list(FEATURES)], data[target].to_numpy(dtype="float64")
    per_size = {size: {"coverage_90": [], "coverage_80": [], "coverage_50": [], "expected": [], "actual": [],
                       "width_90": [], "naive_width": [], "naive_held": []} for size in cohort_sizes}
    single: dict[str, list[float]] = {}
    single_rows: dict[str, list[int]] = {}
    overall: list[float] = []
    roundoff = 0.0
    for repetition in range(repetitions):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_fraction, random_state=seed * 1000 + repetition
        )
        pipeline = clone(pipeline_template)
        pipeline.steps.append(("actual_estimator", clone(estimator)))
        unfitted = clone(pipeline)
        pipeline.fit(X_train, y_train)
        out_of_fold = cross_val_predict(unfitted, X_train, y_train, cv=fold_generator)
        train_groups, test_groups = groups_of(X_train), groups_of(X_test)
        offsets = conformal_offsets(y_train - out_of_fold, train_groups, ALPHA)
        if on_split:  # the fairness figures score the same split (ml.fairness_fit.OutOfFold)
            on_split(repetition, X_train, y_train, X_test, y_test, pipeline, offsets)

        # One patient: the group's 90% interval around the refitted pipeline's estimate.
        point = pipeline.predict(X_test)
        inside = np.zeros(len(y_test), dtype=bool)
        for group, offset in offsets.items():
            rows = test_groups == group
            inside[rows] = (y_test[rows] >= point[rows] + offset["low"]) & (y_test[rows] <= point[rows] + offset["high"])
            single.setdefault(group, []).append(float(inside[rows].mean()))
            single_rows.setdefault(group, []).append(int(rows.sum()))
        overall.append(float(inside.mean()))

        # Cohorts: the same distribution the served model has, fitted on this split's 70%.
        residuals = {group: (y_train - out_of_fold)[train_groups == group] for group in offsets}
        train_basis, test_basis = basis_of(X_train), basis_of(X_test)
        coef, worst = linear_coefficients(train_basis, pipeline.predict(X_train), tolerance=REFIT_TOLERANCE,
                                          what=f"The refit of repetition {repetition}")
        roundoff = max(roundoff, worst)
        rng = np.random.default_rng([seed, repetition])
        model_error = model_error_fit(pipeline, X_train, y_train, residuals, refits=refits, rng=rng)
        roundoff = max(roundoff, model_error["refit_roundoff"])
        distribution = distribution_build(coef=coef, residuals=residuals, model_error=model_error, interval_groups=offsets)
        for size in cohort_sizes:
            held = {"90": 0, "80": 0, "50": 0}
            record = per_size[size]
            for _ in range(cohorts):
                rows = rng.choice(len(y_test), size, replace=False)
                counts = {group: int((test_groups[rows] == group).sum()) for group in offsets}
                figures = distribution.summary(test_basis[rows].sum(axis=0), counts)
                actual = float(y_test[rows].sum())
                for level in held:
                    low, high = figures.ranges[level]
                    held[level] += low <= actual <= high
                naive_low, naive_high = figures.naive_interval_sum
                record["expected"].append(figures.expected_total)
                record["actual"].append(actual)
                record["width_90"].append(figures.ranges["90"][1] - figures.ranges["90"][0])
                record["naive_width"].append(naive_high - naive_low)
                record["naive_held"].append(naive_low <= actual <= naive_high)
            for level, count in held.items():
                record[f"coverage_{level}"].append(count / cohorts)
        if progress:
            progress(repetition + 1)

    cohort_calibration = {}
    for size, record in per_size.items():
        coverage = {level: np.array(record[f"coverage_{level}"]) for level in ("90", "80", "50")}
        expected, actual = np.array(record["expected"]), np.array(record["actual"])
        cohort_calibration[str(size)] = {
            "patients": size,
            "repetitions": repetitions,
            "cohorts_per_repetition": cohorts,
            "coverage_90": round(float(coverage["90"].mean()), 4),
            "coverage_80": round(float(coverage["80"].mean()), 4),
            "coverage_50": round(float(coverage["50"].mean()), 4),
            "coverage_90_ci95": _ci95(coverage["90"]),
            "coverage_50_ci95": _ci95(coverage["50"]),
            "coverage_90_range": [round(float(coverage["90"].min()), 4), round(float(coverage["90"].max()), 4)],
            "mean_total_error": round(float((expected - actual).mean() / actual.mean()), 4),
            "mean_actual_total": round(float(actual.mean()), 2),
            "mean_width_90": round(float(np.mean(record["width_90"])), 2),
            "mean_naive_interval_width": round(float(np.mean(record["naive_width"])), 2),
            "naive_interval_coverage": round(float(np.mean(record["naive_held"])), 4),
            "refit_roundoff": round(roundoff, 2),
        }
    everyone = groups_of(X)
    interval_calibration = {
        "method": "the 90% interval refitted on each split's 70% (10-fold out-of-fold residuals), "
        "scored on its 30%; averaged over the repetitions",
        "repetitions": repetitions,
        "test_rows": int(len(y_test)),
        "overall": {"coverage": round(float(np.mean(overall)), 4), "min": round(float(np.min(overall)), 4),
                    "max": round(float(np.max(overall)), 4)},
        "groups": {
            group: {
                "coverage": round(float(np.mean(values)), 4),
                "min": round(float(np.min(values)), 4),
                "max": round(float(np.max(values)), 4),
                "mean_rows": round(float(np.mean(single_rows[group])), 1),
                "patients": int((everyone == group).sum()),  # the group's patients in the whole data
            }
            for group, values in sorted(single.items())
        },
    }
    return cohort_calibration, interval_calibration
