"""serving: which model serves; the read-only lookup of the active version, the explicit activation, the warm-up."""

import shutil

import pytest

from predictor.ml import artifacts


@pytest.fixture
def artifact_copy(tmp_path, loaded_model):
    """A copy of the committed artifact and its card in a temporary folder."""
    target = tmp_path / "copy.pkl"
    shutil.copy(loaded_model.path, target)
    shutil.copy(artifacts.card_path_for(loaded_model.path), artifacts.card_path_for(target))
    return target


def test_the_server_refuses_to_start_with_a_tampered_artifact(artifact_copy, settings, db):
    """gunicorn preloads wsgi.py, which warms up; loading it with a bad artifact must fail, not serve."""
    import importlib

    import insurance_site.wsgi

    with open(artifact_copy, "ab") as handle:
        handle.write(b"tampered")
    settings.PREDICTOR_PIPELINE_PATH = artifact_copy
    with pytest.raises(artifacts.ModelArtifactError):
        importlib.reload(insurance_site.wsgi)
