"""The only module that knows PyCaret: training, the verified load, and predicting charges.

A served model is a pair of files: the pipeline saved by PyCaret's ``save_model``
(``NAME.pkl``) and its model card (``NAME.json``) holding the artifact's sha256,
its metrics and the ranges it was trained on. The pipeline is loaded once per
process, after its hash is checked, and predicts with its own ``predict``
(``predict_model`` costs ~140 ms a row and is never used per request).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

FEATURES = ("age", "sex", "bmi", "children", "smoker", "region")
TARGET = "charges"
NUMERIC_FEATURES = ("age", "bmi", "children")
SESSION_ID = 123
HOLDOUT_FRACTION = 0.3

RETRAIN_HINT = (
    "restore the committed pair with `git checkout -- predictor/artifacts/`, "
    "or retrain with `python manage.py train_model --data ../shared/data/insurance.csv`, "
    "or point PREDICTOR_PIPELINE_PATH at a verified artifact"
)


class ModelArtifactError(ImproperlyConfigured):
    """The configured model artifact is missing, has no card, or does not match its card."""


@dataclass(frozen=True)
class LoadedModel:
    """A verified pipeline together with its card."""

    path: Path
    sha256: str
    card: dict[str, Any]
    pipeline: Any = field(repr=False)
    # The exact one-row fast path compiled from the pipeline, or None when a step is unknown.
    fast: FastPath | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.card["name"]


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def card_path_for(artifact_path: Path) -> Path:
    """Where the model card of an artifact lives: beside it, same stem, `.json`."""
    return artifact_path.with_suffix(".json")


def read_card(artifact_path: Path) -> dict[str, Any]:
    """The model card of an artifact, or a ModelArtifactError saying what to do."""
    card_path = card_path_for(artifact_path)
    if not card_path.is_file():
        raise ModelArtifactError(f"The model card {card_path} is missing: {RETRAIN_HINT}.")
    try:
        return json.loads(card_path.read_text())
    except ValueError as exc:
        raise ModelArtifactError(f"The model card {card_path} is not valid JSON ({exc}): {RETRAIN_HINT}.") from exc


def verify_artifact(artifact_path: Path) -> tuple[str, dict[str, Any]]:
    """Check that the artifact exists and matches the sha256 in its card; return both."""
    artifact_path = Path(artifact_path)
    if not artifact_path.is_file():
        raise ModelArtifactError(f"The model artifact {artifact_path} is missing: {RETRAIN_HINT}.")
    card = read_card(artifact_path)
    actual = file_sha256(artifact_path)
    expected = card.get("artifact_sha256")
    if actual != expected:
        raise ModelArtifactError(
            f"The model artifact {artifact_path} has sha256 {actual}, but its card expects {expected}: "
            f"the file was changed or replaced. Refusing to serve it; {RETRAIN_HINT}."
        )
    return actual, card


def load_model_artifact(artifact_path: Path) -> LoadedModel:
    """Verify an artifact against its card, then load the PyCaret pipeline from it."""
    artifact_path = Path(artifact_path)
    sha256, card = verify_artifact(artifact_path)
    from pycaret.regression import load_model

    # PyCaret's load_model appends ".pkl" itself.
    pipeline = load_model(str(artifact_path.with_suffix("")), verbose=False)
    return LoadedModel(path=artifact_path, sha256=sha256, card=card, pipeline=pipeline, fast=FastPath.compile(pipeline))


def artifact_path_for(name: str) -> Path:
    """The artifact of a named model version: NAME.pkl in the folder of PREDICTOR_PIPELINE_PATH."""
    return Path(settings.PREDICTOR_PIPELINE_PATH).parent / f"{name}.pkl"


_loaded: dict[Path, LoadedModel] = {}
_load_lock = threading.Lock()


def get_model(name: str | None = None) -> LoadedModel:
    """A verified model, loaded once per process: the named one, or the default at PREDICTOR_PIPELINE_PATH."""
    path = artifact_path_for(name) if name else Path(settings.PREDICTOR_PIPELINE_PATH)
    model = _loaded.get(path)
    if model is None:
        with _load_lock:
            model = _loaded.get(path)
            if model is None:
                model = load_model_artifact(path)
                if name and model.name != name:
                    raise ModelArtifactError(f"The card of {path} names the model {model.name!r}, not {name!r}.")
                _loaded[path] = model
    return model


def is_model_loaded() -> bool:
    """Whether this process already holds the default model."""
    return Path(settings.PREDICTOR_PIPELINE_PATH) in _loaded


def features_frame(rows: Sequence[Mapping[str, Any]]):
    """A DataFrame of raw inputs in the column order and dtypes the pipeline was trained on."""
    import pandas as pd

    frame = pd.DataFrame.from_records([{name: row[name] for name in FEATURES} for row in rows], columns=FEATURES)
    return frame.astype({"age": "int64", "bmi": "float64", "children": "int64"})


def predict_charges(rows: Sequence[Mapping[str, Any]], model: LoadedModel | None = None) -> list[float]:
    """Predicted yearly charges in dollars, one per row of raw inputs.

    One row takes the exact fast path when the pipeline has one (microseconds instead of
    PyCaret's ~10 ms of pandas work); several rows go through the pipeline's own ``predict``,
    vectorised. Tests prove the two equal on the data file and on random valid inputs.
    """
    model = model or get_model()
    if len(rows) == 1 and model.fast is not None:
        return [model.fast.predict_one(rows[0])]
    return predict_charges_pipeline(rows, model)


def predict_charges_pipeline(rows: Sequence[Mapping[str, Any]], model: LoadedModel) -> list[float]:
    """The source of truth: the loaded PyCaret pipeline's own ``predict``, whatever the row count."""
    return [float(value) for value in model.pipeline.predict(features_frame(rows))]


def predict_charges_predict_model(rows: Sequence[Mapping[str, Any]], model: LoadedModel) -> list[float]:
    """The tutorial's way, PyCaret's ``predict_model`` (~140 ms a row): only for the benchmark's baseline."""
    from pycaret.regression import predict_model

    scored = predict_model(model.pipeline, data=features_frame(rows), verbose=False)
    return [float(value) for value in scored["prediction_label"]]


def predict_charges_with_interval(
    rows: Sequence[Mapping[str, Any]], model: LoadedModel
) -> list[tuple[float, float | None, float | None]]:
    """(charge, low, high) per row; low and high are None for a model whose card has no interval."""
    from .features import prediction_interval

    points = predict_charges(rows, model=model)
    interval = model.card.get("interval")
    if not interval:
        return [(point, None, None) for point in points]
    return [(point, *prediction_interval(point, row, interval)) for point, row in zip(points, rows)]


def extrapolated_features(row: Mapping[str, Any], card: Mapping[str, Any]) -> list[str]:
    """The inputs of a row that lie outside the range the model was trained on."""
    ranges = card.get("training_ranges", {})
    return [
        name
        for name in NUMERIC_FEATURES
        if name in ranges and not ranges[name][0] <= float(row[name]) <= ranges[name][1]
    ]


# ---------------------------------------------------------------------------
# The exact one-row fast path
#
# PyCaret's pipeline spends ~10 ms of pandas work on a one-row frame; its arithmetic takes
# microseconds. At load time each fitted step is translated into the same arithmetic on a
# plain dict of named values; a step this code does not know leaves the model without a
# fast path, so it falls back to the pipeline's own predict.


class UnsupportedStep(Exception):
    """A pipeline step the fast path cannot translate exactly."""


class FastPath:
    """One row through the fitted steps with plain Python and NumPy, equal to ``pipeline.predict``."""

    def __init__(self, steps: list[Callable[[dict[str, Any]], None]], columns: list[str], estimate: Callable):
        self._steps = steps
        self._columns = columns
        self._estimate = estimate

    @classmethod
    def compile(cls, fitted_pipeline) -> FastPath | None:
        """The fast path of a fitted PyCaret pipeline, or None if any step is unknown."""
        try:
            return cls._compile(fitted_pipeline)
        except UnsupportedStep:
            return None

    @classmethod
    def _compile(cls, fitted_pipeline) -> FastPath:
        import numpy as np

        *transforms, (_, estimator) = fitted_pipeline.steps
        steps: list[Callable[[dict[str, Any]], None]] = []
        scale: tuple[Any, Any] | None = None
        columns: list[str] | None = None
        for _, wrapper in transforms:
            transformer = getattr(wrapper, "transformer", None)
            if scale is not None:
                raise UnsupportedStep("a step after scaling")
            kind = type(transformer).__name__
            if hasattr(transformer, "transform_row"):
                steps.append(transformer.transform_row)
            elif kind == "SimpleImputer":
                steps.append(_imputer_step(list(transformer.feature_names_in_), list(transformer.statistics_)))
            elif kind == "OrdinalEncoder" and type(transformer).__module__.startswith("category_encoders"):
                steps.append(_ordinal_step(transformer))
            elif kind == "OneHotEncoder" and type(transformer).__module__.startswith("category_encoders"):
                steps.append(_onehot_step(transformer))
            elif kind == "StandardScaler" and getattr(wrapper, "include", None) is None:
                columns = list(transformer.feature_names_in_)
                mean = transformer.mean_ if transformer.with_mean else np.zeros(len(columns))
                std = transformer.scale_ if transformer.with_std else np.ones(len(columns))
                scale = (mean, std)
            else:
                raise UnsupportedStep(kind)
        if columns is None:
            columns = list(getattr(estimator, "feature_names_in_", []))
            if not columns:
                raise UnsupportedStep("no feature order known")
        linear = _linear_estimate(estimator)
        mean, std = scale if scale is not None else (0.0, 1.0)

        def estimate(values):
            return linear((values - mean) / std)

        return cls(steps, columns, estimate)

    def predict_one(self, row: Mapping[str, Any]) -> float:
        import numpy as np

        values = {name: row[name] for name in FEATURES}
        for step in self._steps:
            step(values)
        return float(self._estimate(np.array([values[name] for name in self._columns], dtype="float64")))


def _imputer_step(columns: list[str], fill: list[Any]) -> Callable[[dict[str, Any]], None]:
    def impute(values: dict[str, Any]) -> None:
        for name, default in zip(columns, fill):
            value = values.get(name)
            if value is None or value != value:  # missing or NaN
                values[name] = default

    return impute


def _ordinal_step(encoder) -> Callable[[dict[str, Any]], None]:
    tables = {entry["col"]: {key: int(code) for key, code in entry["mapping"].items() if key == key} for entry in encoder.mapping}

    def encode(values: dict[str, Any]) -> None:
        for name, table in tables.items():
            if values[name] not in table:
                raise KeyError(f"{name}={values[name]!r} was not seen in training")
            values[name] = table[values[name]]

    return encode


def _onehot_step(encoder) -> Callable[[dict[str, Any]], None]:
    ordinal = {entry["col"]: dict(entry["mapping"].items()) for entry in encoder.ordinal_encoder.mapping}
    tables = {}
    for entry in encoder.mapping:
        name, frame = entry["col"], entry["mapping"]
        tables[name] = {
            category: dict(zip(frame.columns, (float(v) for v in frame.loc[code])))
            for category, code in ordinal[name].items()
            if category == category and code in frame.index
        }

    def encode(values: dict[str, Any]) -> None:
        for name, table in tables.items():
            values.update(table[values.pop(name)])

    return encode


def _linear_estimate(estimator) -> Callable:
    """y = x·coef + intercept for a linear model, or the weighted mean of linear models for a VotingRegressor."""
    import numpy as np

    kind = type(estimator).__name__
    if kind in {"LinearRegression", "HuberRegressor", "Ridge", "Lasso", "ElasticNet", "BayesianRidge", "Lars"}:
        coef, intercept = np.asarray(estimator.coef_, dtype="float64"), float(estimator.intercept_)
        if coef.ndim != 1:
            raise UnsupportedStep(f"{kind} with {coef.ndim}-d coefficients")
        return lambda x: float(x @ coef) + intercept
    if kind == "VotingRegressor":
        parts = [_linear_estimate(member) for member in estimator.estimators_]
        weights = np.ones(len(parts)) if estimator.weights is None else np.asarray(estimator.weights, dtype="float64")
        return lambda x: float(np.average([part(x) for part in parts], weights=weights))
    raise UnsupportedStep(kind)


# ---------------------------------------------------------------------------
# Training
#
# Everything that chooses (estimator, blend weight, interval offsets) looks only at the 70%
# training part through 10-fold cross-validation; the 30% holdout is scored once, to report.

ALPHA = 0.10  # a 90% prediction interval
MAE_BUDGET = 1800.0  # CV MAE allowed when maximising CV R²: 10% under the $2,000 target
BLEND_WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5)  # weight of least squares against Huber


def _scores(table) -> dict[str, float]:
    """R², MAE and RMSE from a PyCaret scoring table's 'Mean' (or only) row."""
    row = table.loc["Mean"] if "Mean" in table.index else table.iloc[0]
    return {"r2": round(float(row["R2"]), 4), "mae": round(float(row["MAE"]), 2), "rmse": round(float(row["RMSE"]), 2)}


def _metrics(actual, predicted) -> dict[str, float]:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    return {
        "r2": round(float(r2_score(actual, predicted)), 4),
        "mae": round(float(mean_absolute_error(actual, predicted)), 2),
        "rmse": round(float(math.sqrt(mean_squared_error(actual, predicted))), 2),
    }


def conformal_offsets(residuals, groups, alpha: float) -> dict[str, dict[str, float]]:
    """Group-conditional (Mondrian) split-conformal offsets from out-of-fold residuals (actual - predicted).

    Per group of n residuals, k = ceil((n+1)(1-alpha)) is the finite-sample rank; the offsets are
    the narrowest window that holds k consecutive sorted residuals and also 0, so that the
    interval always contains the point estimate. It is asymmetric because charges are skewed
    (most rows sit on the formula, a few carry a large surprise upward); rounded outward to dollars.
    """
    import numpy as np

    offsets = {}
    for group in sorted(set(groups)):
        ordered = np.sort(residuals[groups == group])
        n = len(ordered)
        k = math.ceil((n + 1) * (1 - alpha))
        if k > n:
            raise ValueError(f"group {group} has {n} rows: too few for a {1 - alpha:.0%} interval")
        lows = np.minimum(ordered[: n - k + 1], 0.0)
        highs = np.maximum(ordered[k - 1 :], 0.0)
        start = int(np.argmin(highs - lows))
        offsets[group] = {
            "low": float(math.floor(lows[start])),
            "high": float(math.ceil(highs[start])),
            "n": n,
            "level": round(k / n, 4),
        }
    return offsets


def train(
    *,
    data_path: Path,
    output_path: Path,
    name: str,
    step: Callable[[str], None] = lambda description: None,
) -> dict[str, Any]:
    """Train the pipeline on a CSV file, save it to ``output_path`` with its card, and return the card."""
    import numpy as np
    import pandas as pd
    from lightgbm import LGBMRegressor
    from pycaret.regression import (
        blend_models,
        create_model,
        finalize_model,
        get_config,
        predict_model,
        pull,
        save_model,
        setup,
    )
    from sklearn.base import clone
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.model_selection import cross_val_predict

    from .features import DOMAIN_FEATURES, InsuranceFeatures, interval_group

    started = time.perf_counter()
    data_path, output_path = Path(data_path), Path(output_path)

    step("reading the data")
    data = pd.read_csv(data_path)
    missing = [column for column in (*FEATURES, TARGET) if column not in data.columns]
    if missing:
        raise ValueError(f"{data_path} lacks the column(s): {', '.join(missing)}")
    data = data[[*FEATURES, TARGET]]

    step("preparing the PyCaret experiment")
    setup(
        data=data,
        target=TARGET,
        session_id=SESSION_ID,
        train_size=1 - HOLDOUT_FRACTION,
        memory=False,
        n_jobs=1,
        verbose=False,
        html=False,
        normalize=True,
        # First, so that it sees the six raw columns; it is saved inside the pipeline.
        custom_pipeline=[("domain_features", InsuranceFeatures())],
        custom_pipeline_position=0,
    )

    # Candidates: least squares (the mean: best R²), Huber (near the median: best MAE, since
    # charges are right-skewed), robust-loss boosting, and least-squares/Huber blends between.
    step("cross-validating the candidates on the training part")
    candidates: dict[str, Any] = {}
    cv: dict[str, dict[str, float]] = {}

    def candidate(label: str, model: Any) -> Any:
        candidates[label] = model
        cv[label] = _scores(pull())
        return model

    least_squares = candidate("lr", create_model("lr", verbose=False))
    huber = candidate("huber", create_model("huber", max_iter=1000, verbose=False))
    candidate("gbr_huber", create_model(GradientBoostingRegressor(loss="huber", random_state=SESSION_ID), verbose=False))
    candidate(
        "lightgbm_l1",
        create_model(LGBMRegressor(objective="l1", random_state=SESSION_ID, n_jobs=1, verbose=-1), verbose=False),
    )
    for weight in BLEND_WEIGHTS:
        candidate(
            f"blend_lr{weight:.1f}_huber{1 - weight:.1f}",
            blend_models([least_squares, huber], weights=[weight, 1 - weight], choose_better=False, verbose=False),
        )
    eligible = [label for label in cv if cv[label]["mae"] <= MAE_BUDGET] or list(cv)
    chosen = max(eligible, key=lambda label: cv[label]["r2"])
    model = candidates[chosen]

    step("calibrating the 90% interval on out-of-fold residuals")
    X_train, y_train = get_config("X_train"), get_config("y_train")
    cv_pipeline = clone(get_config("pipeline"))
    cv_pipeline.steps.append(("actual_estimator", clone(model)))
    out_of_fold = cross_val_predict(cv_pipeline, X_train, y_train, cv=get_config("fold_generator"))
    train_groups = np.array([interval_group(row) for row in X_train.to_dict("records")])
    interval = {
        "method": "group-conditional split-conformal: per group, the narrowest window holding 0 and "
        "ceil((n+1)(1-alpha)) of the sorted 10-fold out-of-fold residuals of the training part",
        "alpha": ALPHA,
        "group_by": "smoker x (bmi > 30)",
        "groups": conformal_offsets(y_train.to_numpy() - out_of_fold, train_groups, ALPHA),
    }

    step("scoring the 30% holdout")
    from .features import prediction_interval

    scored = predict_model(model, verbose=False)
    X_test, y_test = get_config("X_test"), get_config("y_test").to_numpy()
    point = scored.loc[X_test.index, "prediction_label"].to_numpy()
    test_rows = X_test.to_dict("records")
    bounds = np.array([prediction_interval(p, row, interval) for p, row in zip(point, test_rows)])
    inside = (y_test >= bounds[:, 0]) & (y_test <= bounds[:, 1])
    test_groups = np.array([interval_group(row) for row in test_rows])
    holdout = {
        **_metrics(y_test, point),
        "interval_coverage": round(float(inside.mean()), 4),
        "mean_interval_width": round(float((bounds[:, 1] - bounds[:, 0]).mean()), 2),
        "coverage_by_group": {
            group: round(float(inside[test_groups == group].mean()), 4) for group in sorted(set(test_groups))
        },
        "rows": int(len(y_test)),
    }
    holdout_plot = {
        "actual": [round(float(v), 2) for v in y_test],
        "predicted": [round(float(v), 2) for v in point],
        "low": [round(float(v), 2) for v in bounds[:, 0]],
        "high": [round(float(v), 2) for v in bounds[:, 1]],
    }

    step("refitting on all the data")
    final = finalize_model(model)

    step("saving the artifact and its card")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    save_model(final, str(output_path.with_suffix("")), verbose=False)

    card = {
        "name": name,
        "estimator": chosen,
        "estimator_class": type(final.steps[-1][1]).__name__,
        "selection": f"highest 10-fold CV R² among candidates with CV MAE <= ${MAE_BUDGET:,.0f}, on the 70% training part",
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": round(time.perf_counter() - started, 1),
        "artifact": output_path.name,
        "artifact_sha256": file_sha256(output_path),
        "data": {"file": data_path.name, "sha256": file_sha256(data_path), "rows": int(len(data))},
        "setup": {"session_id": SESSION_ID, "holdout_fraction": HOLDOUT_FRACTION, "normalize": True},
        "features": list(FEATURES),
        "model_features": [*FEATURES, *DOMAIN_FEATURES],
        "training_ranges": {
            column: [float(data[column].min()), float(data[column].max())] for column in NUMERIC_FEATURES
        },
        "cv": cv[chosen],
        "holdout": holdout,
        "candidates_cv": cv,
        "interval": interval,
        "holdout_plot": holdout_plot,
        "versions": {
            "python": platform.python_version(),
            **{package: version(package) for package in ("pycaret", "scikit-learn", "pandas", "numpy", "lightgbm")},
        },
    }
    card_path_for(output_path).write_text(json.dumps(card, indent=2) + "\n")
    return card
