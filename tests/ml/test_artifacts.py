"""ml.artifacts: the card beside each pipeline, the sha256 check, the verified load and the per-process cache."""

import json

import pytest

from predictor import features
from predictor.ml import artifacts, predict
from tests import golden


def test_committed_artifact_matches_its_card(loaded_model):
    assert artifacts.file_sha256(loaded_model.path) == loaded_model.card["artifact_sha256"]
    assert loaded_model.card["features"] == list(features.FEATURES)


def test_a_verified_copy_loads_and_predicts_like_the_original(artifact_copy, loaded_model, valid_inputs):
    copy = artifacts.load_model_artifact(artifact_copy)
    assert predict.predict_charges([valid_inputs], model=copy) == predict.predict_charges(
        [valid_inputs], model=loaded_model
    )
    [charge] = predict.predict_charges([valid_inputs], model=copy)
    assert charge == pytest.approx(17076.04, abs=golden.TOLERANCE)


def test_missing_artifact_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(artifacts.ModelArtifactError, match="is missing.*train_model"):
        artifacts.load_model_artifact(tmp_path / "nowhere.pkl")


def test_missing_card_is_refused(artifact_copy):
    artifacts.card_path_for(artifact_copy).unlink()
    with pytest.raises(artifacts.ModelArtifactError, match="model card .* is missing"):
        artifacts.load_model_artifact(artifact_copy)


def test_a_card_that_is_not_json_is_refused(artifact_copy):
    artifacts.card_path_for(artifact_copy).write_text("{not json")
    with pytest.raises(artifacts.ModelArtifactError, match="is not valid JSON"):
        artifacts.load_model_artifact(artifact_copy)


def test_tampered_artifact_is_refused(artifact_copy):
    with open(artifact_copy, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(artifacts.ModelArtifactError, match="changed or replaced.*train_model"):
        artifacts.load_model_artifact(artifact_copy)


def test_card_with_another_hash_is_refused(artifact_copy):
    card_path = artifacts.card_path_for(artifact_copy)
    card = json.loads(card_path.read_text())
    card["artifact_sha256"] = "f" * 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(artifacts.ModelArtifactError, match="expects f{64}"):
        artifacts.load_model_artifact(artifact_copy)


def test_a_model_is_loaded_once_per_process(loaded_model):
    assert artifacts.get_model() is loaded_model
    assert artifacts.get_model(loaded_model.name) is artifacts.get_model(loaded_model.name)


def test_a_named_artifact_whose_card_names_another_model_is_refused(artifact_copy, settings, loaded_model):
    settings.PREDICTOR_PIPELINE_PATH = artifact_copy  # copy.pkl, whose card names the committed model
    with pytest.raises(artifacts.ModelArtifactError, match=f"names the model '{loaded_model.name}', not 'copy'"):
        artifacts.get_model("copy")
