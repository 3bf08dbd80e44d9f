"""Model artifacts: the card beside each pipeline, the sha256 check, the verified load, the per-process cache.

A served model is a pair of files: the pipeline saved by PyCaret's ``save_model`` (``NAME.pkl``)
and its model card (``NAME.json``) holding the artifact's sha256, its metrics and the ranges it
was trained on. A pipeline is loaded once per process, after its hash is checked.

The load is ``joblib.load``, which is all PyCaret's ``load_model`` does, without importing
``pycaret.regression`` and the training stack behind it: unpickling imports only the PyCaret
modules the pipeline's classes live in, so the serving-only install (requirements-serve.txt, as
in the container image) loads and serves every committed pipeline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .fast_path import FastPath

logger = logging.getLogger(__name__)

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
    return Path(artifact_path).with_suffix(".json")


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
    import joblib

    with warnings.catch_warnings():
        # PyCaret's Pipeline compares the versions of its whole dependency list (pip, IPython,
        # plotly, ...) with the pickle's on every load, and warns; the serving install leaves
        # most of them out on purpose. The libraries that compute an answer are checked below.
        warnings.filterwarnings("ignore", message="Version mismatch", module=r"pycaret\.internal\.pipeline")
        pipeline = joblib.load(artifact_path)
    for package, trained, here in library_drift(card):
        logger.warning(
            "%s was trained with %s %s, but this install has %s: the golden predictions test "
            "(tests/golden) says whether its answers changed.", card.get("name"), package, trained, here,
        )
    return LoadedModel(path=artifact_path, sha256=sha256, card=card, pipeline=pipeline, fast=FastPath.compile(pipeline))


def library_drift(card: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(package, version in the card, version here) for each installed library the card names at another version."""
    from importlib.metadata import PackageNotFoundError, version

    drift = []
    for package, trained in (card.get("versions") or {}).items():
        if package == "python":
            continue
        try:
            here = version(package)
        except PackageNotFoundError:  # a training-only library (LightGBM) in the serving install
            continue
        if here != trained:
            drift.append((package, trained, here))
    return drift


def artifacts_folder() -> Path:
    """The folder of the default artifact (PREDICTOR_PIPELINE_PATH), where every named version lives."""
    return Path(settings.PREDICTOR_PIPELINE_PATH).parent


def artifact_path_for(name: str | None = None) -> Path:
    """The artifact of a named model version (NAME.pkl beside the default), or the default itself."""
    return artifacts_folder() / f"{name}.pkl" if name else Path(settings.PREDICTOR_PIPELINE_PATH)


_loaded: dict[Path, LoadedModel] = {}
_load_lock = threading.Lock()


def get_model(name: str | None = None) -> LoadedModel:
    """A verified model, loaded once per process: the named one, or the default at PREDICTOR_PIPELINE_PATH."""
    path = artifact_path_for(name)
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
