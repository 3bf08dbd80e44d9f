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

# The tutorial's configuration: normalised, polynomial features, age and bmi binned, linear regression.
TUTORIAL_SETUP = {
    "normalize": True,
    "polynomial_features": True,
    "bin_numeric_features": ["age", "bmi"],
}
TUTORIAL_ESTIMATOR = "lr"

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
    return LoadedModel(path=artifact_path, sha256=sha256, card=card, pipeline=pipeline)


_loaded: dict[Path, LoadedModel] = {}
_load_lock = threading.Lock()


def get_model() -> LoadedModel:
    """The configured model, loaded once per process (gunicorn preloads it before forking)."""
    path = Path(settings.PREDICTOR_PIPELINE_PATH)
    model = _loaded.get(path)
    if model is None:
        with _load_lock:
            model = _loaded.get(path)
            if model is None:
                model = _loaded[path] = load_model_artifact(path)
    return model


def is_model_loaded() -> bool:
    """Whether this process already holds the configured model."""
    return Path(settings.PREDICTOR_PIPELINE_PATH) in _loaded


def features_frame(rows: Sequence[Mapping[str, Any]]):
    """A DataFrame of raw inputs in the column order and dtypes the pipeline was trained on."""
    import pandas as pd

    frame = pd.DataFrame.from_records([{name: row[name] for name in FEATURES} for row in rows], columns=FEATURES)
    return frame.astype({"age": "int64", "bmi": "float64", "children": "int64"})


def predict_charges(rows: Sequence[Mapping[str, Any]], model: LoadedModel | None = None) -> list[float]:
    """Predicted yearly charges in dollars, one per row of raw inputs."""
    model = model or get_model()
    return [float(value) for value in model.pipeline.predict(features_frame(rows))]


def extrapolated_features(row: Mapping[str, Any], card: Mapping[str, Any]) -> list[str]:
    """The inputs of a row that lie outside the range the model was trained on."""
    ranges = card.get("training_ranges", {})
    return [
        name
        for name in NUMERIC_FEATURES
        if name in ranges and not ranges[name][0] <= float(row[name]) <= ranges[name][1]
    ]


# ---------------------------------------------------------------------------
# Training


def _regression_metrics(table) -> dict[str, float]:
    """R², MAE and RMSE from a PyCaret scoring table's first (or 'Mean') row."""
    row = table.loc["Mean"] if "Mean" in table.index else table.iloc[0]
    return {"r2": round(float(row["R2"]), 4), "mae": round(float(row["MAE"]), 2), "rmse": round(float(row["RMSE"]), 2)}


def train(
    *,
    data_path: Path,
    output_path: Path,
    name: str,
    step: Callable[[str], None] = lambda description: None,
) -> dict[str, Any]:
    """Train the pipeline on a CSV file, save it to ``output_path`` with its card, and return the card."""
    import pandas as pd
    from pycaret.regression import create_model, finalize_model, predict_model, pull, save_model, setup

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
        **TUTORIAL_SETUP,
    )

    step("cross-validating on the training part")
    model = create_model(TUTORIAL_ESTIMATOR, verbose=False)
    cv = _regression_metrics(pull())

    step("scoring the 30% holdout")
    predict_model(model, verbose=False)
    holdout = _regression_metrics(pull())

    step("refitting on all the data")
    final = finalize_model(model)

    step("saving the artifact and its card")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    save_model(final, str(output_path.with_suffix("")), verbose=False)

    card = {
        "name": name,
        "estimator": type(final.steps[-1][1]).__name__,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training_seconds": round(time.perf_counter() - started, 1),
        "artifact": output_path.name,
        "artifact_sha256": file_sha256(output_path),
        "data": {"file": data_path.name, "sha256": file_sha256(data_path), "rows": int(len(data))},
        "setup": {"session_id": SESSION_ID, "holdout_fraction": HOLDOUT_FRACTION, **TUTORIAL_SETUP},
        "features": list(FEATURES),
        "training_ranges": {
            column: [float(data[column].min()), float(data[column].max())] for column in NUMERIC_FEATURES
        },
        "metrics": {"cv": cv, "holdout": holdout},
        "versions": {
            "python": platform.python_version(),
            **{package: version(package) for package in ("pycaret", "scikit-learn", "pandas", "numpy")},
        },
    }
    card_path_for(output_path).write_text(json.dumps(card, indent=2) + "\n")
    return card
