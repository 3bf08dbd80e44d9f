"""pipeline: the verified load of the artifact and predicting with the loaded pipeline."""

import json
import shutil

import pandas as pd
import pytest
from predictor import features
from predictor.ml import artifacts, predict



@pytest.fixture
def artifact_copy(tmp_path, loaded_model):
    """A copy of the committed artifact and its card in a temporary folder."""
    target = tmp_path / "copy.pkl"
    shutil.copy(loaded_model.path, target)
    shutil.copy(artifacts.card_path_for(loaded_model.path), artifacts.card_path_for(target))
    return target


def test_committed_artifact_matches_its_card(loaded_model):
    assert artifacts.file_sha256(loaded_model.path) == loaded_model.card["artifact_sha256"]
    assert loaded_model.card["features"] == list(features.FEATURES)


def test_a_verified_copy_loads_and_predicts_like_the_original(artifact_copy, loaded_model, valid_inputs):
    copy = artifacts.load_model_artifact(artifact_copy)
    assert predict.predict_charges([valid_inputs], model=copy) == predict.predict_charges(
        [valid_inputs], model=loaded_model
    )


def test_missing_artifact_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(artifacts.ModelArtifactError, match="is missing.*train_model"):
        artifacts.load_model_artifact(tmp_path / "nowhere.pkl")


def test_missing_card_is_refused(artifact_copy):
    artifacts.card_path_for(artifact_copy).unlink()
    with pytest.raises(artifacts.ModelArtifactError, match="model card .* is missing"):
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


def test_the_server_refuses_to_start_with_a_tampered_artifact(artifact_copy, settings, db):
    """gunicorn preloads wsgi.py; loading it with a bad artifact must fail, not serve."""
    import importlib

    import insurance_site.wsgi

    with open(artifact_copy, "ab") as handle:
        handle.write(b"tampered")
    settings.PREDICTOR_PIPELINE_PATH = artifact_copy
    with pytest.raises(artifacts.ModelArtifactError):
        importlib.reload(insurance_site.wsgi)


def test_committed_model_explains_the_data_it_was_trained_on(loaded_model, insurance_csv):
    data = pd.read_csv(insurance_csv)
    predicted = pd.Series(predict.predict_charges(data.to_dict("records"), model=loaded_model))
    residual = ((data["charges"] - predicted) ** 2).sum()
    total = ((data["charges"] - data["charges"].mean()) ** 2).sum()
    assert 1 - residual / total > 0.8


def test_batch_prediction_equals_one_row_at_a_time(loaded_model, valid_inputs):
    rows = [{**valid_inputs, "age": age, "smoker": smoker} for age in (18, 40, 64) for smoker in ("yes", "no")]
    together = predict.predict_charges(rows, model=loaded_model)
    alone = [predict.predict_charges([row], model=loaded_model)[0] for row in rows]
    assert together == pytest.approx(alone, abs=1e-6)


@pytest.mark.parametrize(
    "row,expected",
    [
        ({"age": 64, "bmi": 53.13, "children": 5}, []),
        ({"age": 65, "bmi": 30, "children": 0}, ["age"]),
        ({"age": 30, "bmi": 15.5, "children": 6}, ["bmi", "children"]),
    ],
)
def test_extrapolated_features_are_those_outside_the_training_ranges(loaded_model, row, expected):
    assert predict.extrapolated_features(row, loaded_model.card) == expected


def test_the_interval_always_contains_the_estimate(loaded_model):
    from tests.factories import random_valid_rows

    for charge, low, high in predict.predict_charges_with_interval(random_valid_rows(3000, seed=5), model=loaded_model):
        assert 0 <= low <= max(charge, 0) and charge <= high


def test_a_model_without_an_interval_gives_none(valid_inputs):
    tutorial = artifacts.get_model("tutorial-lr-v1")
    [(charge, low, high)] = predict.predict_charges_with_interval([valid_inputs], model=tutorial)
    assert charge > 0 and low is None and high is None
