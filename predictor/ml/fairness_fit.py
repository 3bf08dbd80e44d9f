"""The model card's ``fairness``: out-of-fold figures by group and the variants without ``sex``, on training's splits.

On each of the ``calibration.REPETITIONS`` random 70/30 splits that ``repeated_split_calibration``
draws (the same seeds), the served method (PyCaret's preprocessing, cloned, and the same estimator)
is refitted on the 70% and scored on the 30%, with its 90% interval from 10-fold out-of-fold
residuals of the 70%; and, on the same split with the same method:

- unaware: the same features without ``sex`` (``pipeline_without``: a first step that holds it at one
  value, ``features.FixedInputs``, as ``train_model --drop-input sex`` builds it);
- discrimination-free: the refitted served model averaged over ``sex`` with the 70%'s shares (no refit);
- rating factors: age, smoker, children and region only (no ``sex``, no ``bmi`` nor its features);
- leakage: a logistic regression predicting ``sex`` from the other five inputs, fitted on the 70%,
  its AUC on the 30%.

``fairness_of_artifact`` computes the same for a committed artifact, leaving its pipeline untouched.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..features import FEATURES, fixed_inputs
from .calibration import REPETITIONS, groups_of
from .fairness import (
    BOOTSTRAP_SEED,
    auc,
    discrimination_free,
    group_figures,
    group_labels,
    mean_abs_gap,
    population_shares,
    variant_figures,
)
from .interval import ALPHA, conformal_offsets, prediction_intervals

# The inputs each variant leaves out (held at one value; BMI at 0, which zeroes its derived features too).
VARIANT_DROPS = {"unaware": ("sex",), "rating_factors": ("sex", "bmi")}
FOLDS = 10  # PyCaret's fold generator in training's setup: KFold(10), unshuffled


def pipeline_without(template, columns: Sequence[str]):
    """A clone of an unfitted PyCaret preprocessing pipeline whose first step holds ``columns`` at one value
    (``features.FixedInputs``): what ``train_model --drop-input`` builds."""
    from sklearn.base import clone

    pipeline = clone(template)
    pipeline.steps.insert(0, ("variant_fixed_inputs", fixed_inputs(columns)))
    return pipeline


def _with_estimator(template, estimator):
    from sklearn.base import clone

    pipeline = clone(template)
    pipeline.steps.append(("actual_estimator", clone(estimator)))
    return pipeline


def _leakage_model():
    """Logistic regression on the five inputs other than sex: scaled numbers, one-hot smoker and region."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    columns = ColumnTransformer([
        ("numbers", StandardScaler(), ["age", "bmi", "children"]),
        ("words", OneHotEncoder(handle_unknown="ignore"), ["smoker", "region"]),
    ])
    return make_pipeline(columns, LogisticRegression(max_iter=1000))


class OutOfFold:
    """Collects every split's 30% rows, scored by the served method and by each variant refitted on its 70%.

    ``repeated_split_calibration`` calls ``split`` with the pipeline it refitted and the interval offsets
    it calibrated, so training pays only for the variants; ``out_of_fold_rows`` does the same for an artifact.
    """

    def __init__(self, *, pipeline_template, estimator):
        self.estimator = estimator
        self.templates = {name: pipeline_without(pipeline_template, drops) for name, drops in VARIANT_DROPS.items()}
        self.columns: dict[str, list[np.ndarray]] = {}
        self.seconds = 0.0  # spent here: what the fairness figures add to training

    def split(self, repetition: int, X_train, y_train, X_test, y_test, served, offsets) -> None:
        """Score one split's 30% with the served pipeline (fitted on its 70%), its interval and the variants."""
        started = time.perf_counter()
        point = served.predict(X_test)
        low, high = prediction_intervals(point, X_test["smoker"], X_test["bmi"], {"groups": offsets})
        variants = {name: _with_estimator(template, self.estimator).fit(X_train, y_train).predict(X_test)
                    for name, template in self.templates.items()}
        fair = discrimination_free(served.predict, X_test, shares=population_shares(X_train["sex"]))
        leakage = _leakage_model().fit(X_train.drop(columns="sex"), X_train["sex"] == "male")
        self._keep(patient=X_test.index.to_numpy(), repetition=np.full(len(y_test), repetition), actual=y_test,
                   served=point, low=low, high=high, discrimination_free=fair,
                   sex_score=leakage.predict_proba(X_test.drop(columns="sex"))[:, 1],
                   **{name: X_test[name].to_numpy() for name in FEATURES}, **variants)
        self.seconds += time.perf_counter() - started

    def _keep(self, **arrays) -> None:
        for name, values in arrays.items():
            self.columns.setdefault(name, []).append(np.asarray(values))

    def rows(self) -> dict[str, np.ndarray]:
        return {name: np.concatenate(parts) for name, parts in self.columns.items()}


def out_of_fold_rows(data, *, pipeline_template, estimator, fold_generator, target: str, test_fraction: float,
                     seed: int, repetitions: int = REPETITIONS) -> dict[str, np.ndarray]:
    """``OutOfFold``'s rows on the splits of ``repeated_split_calibration`` (same seeds), without its cohorts."""
    from sklearn.model_selection import cross_val_predict, train_test_split

    X, y = data[list(FEATURES)], data[target].to_numpy(dtype="float64")
    collector = OutOfFold(pipeline_template=pipeline_template, estimator=estimator)
    for repetition in range(repetitions):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=test_fraction, random_state=seed * 1000 + repetition
        )
        served = _with_estimator(pipeline_template, estimator)
        out_of_fold = cross_val_predict(served, X_train, y_train, cv=fold_generator)
        served.fit(X_train, y_train)
        offsets = conformal_offsets(y_train - out_of_fold, groups_of(X_train), ALPHA)
        collector.split(repetition, X_train, y_train, X_test, y_test, served, offsets)
    return collector.rows()


def fairness_figures(rows: dict[str, np.ndarray], *, repetitions: int, seconds: float,
                     seed: int = BOOTSTRAP_SEED) -> dict[str, Any]:
    """The card's ``fairness`` from the out-of-fold rows of ``out_of_fold_rows``."""
    common = {"actual": rows["actual"], "served": rows["served"], "sex": rows["sex"], "clusters": rows["patient"], "seed": seed}
    figures = group_figures(actual=rows["actual"], estimate=rows["served"], low=rows["low"], high=rows["high"],
                            groups=group_labels(rows), clusters=rows["patient"], seed=seed)
    per_split = [auc(rows["sex"][part] == "male", rows["sex_score"][part])
                 for part in (rows["repetition"] == r for r in range(repetitions))]
    return {
        "method": f"out-of-fold: the 30% of each of {repetitions} random 70/30 splits (those of the cohort and "
        "interval calibration), scored by the method refitted on its 70%; a patient appears in several splits, "
        "so the bootstrap resamples patients within each group",
        "rows": {"kind": "out-of-fold", "count": int(len(rows["actual"])), "patients": int(len(set(rows["patient"].tolist()))),
                 "repetitions": repetitions},
        **figures,
        "variants": {
            "unaware": {"inputs": [name for name in FEATURES if name != "sex"],
                        **variant_figures(variant=rows["unaware"], **common)},
            "discrimination_free": {"inputs": list(FEATURES), "method": "h*(x) = sum over s of mu(x, s) P(S = s), "
                                    "P the 70% part's shares; no refit",
                                    **variant_figures(variant=rows["discrimination_free"], **common)},
            "rating_factors": {"inputs": ["age", "children", "smoker", "region"],
                               **variant_figures(variant=rows["rating_factors"], **common)},
        },
        "leakage": {
            "method": "logistic regression predicting sex (male) from age, bmi, children, smoker and region, "
            "fitted on each split's 70%, its AUC on the 30%; 0.5 means nothing leaks",
            "auc": round(float(np.mean(per_split)), 4),
            "auc_range": [round(float(np.min(per_split)), 4), round(float(np.max(per_split)), 4)],
            "mean_abs_gap": mean_abs_gap(rows["unaware"], rows["discrimination_free"], rows["sex"]),
        },
        "seconds": round(seconds, 1),
    }


def fairness_fit(data, *, pipeline_template, estimator, fold_generator, target: str, test_fraction: float, seed: int,
                 repetitions: int = REPETITIONS) -> dict[str, Any]:
    """The card's ``fairness`` for a method (an unfitted preprocessing pipeline and an estimator) on the data."""
    started = time.perf_counter()
    rows = out_of_fold_rows(data, pipeline_template=pipeline_template, estimator=estimator, fold_generator=fold_generator,
                            target=target, test_fraction=test_fraction, seed=seed, repetitions=repetitions)
    return fairness_figures(rows, repetitions=repetitions, seconds=time.perf_counter() - started)


def fairness_of_artifact(pipeline, data, *, target: str, test_fraction: float, seed: int,
                         repetitions: int = REPETITIONS) -> dict[str, Any]:
    """``fairness_fit`` for a fitted artifact's method: its preprocessing steps and estimator, cloned (the artifact is not changed)."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold

    template = clone(pipeline)
    estimator = template.steps.pop()[1]
    return fairness_fit(data, pipeline_template=template, estimator=estimator, fold_generator=KFold(FOLDS),
                        target=target, test_fraction=test_fraction, seed=seed, repetitions=repetitions)


def card_fairness_add(artifact_path: Path, data, **options) -> dict[str, Any]:
    """Write ``fairness`` into a committed artifact's card; the artifact (and so its sha256) stays as it is."""
    import json

    from .artifacts import card_path_for, load_model_artifact

    model = load_model_artifact(artifact_path)
    card = dict(model.card)
    card["fairness"] = fairness_of_artifact(model.pipeline, data, **options)
    card_path_for(artifact_path).write_text(json.dumps(card, indent=2) + "\n")
    return card
