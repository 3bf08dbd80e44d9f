"""The one-row fast path equals the PyCaret pipeline's own predict (the source of truth) within 1e-6 dollars."""

import dataclasses

import pandas as pd
import pytest

from tests.factories import random_valid_rows
from predictor.ml import artifacts, predict

TOLERANCE = 1e-6


def test_the_served_model_has_a_fast_path(loaded_model):
    assert loaded_model.fast is not None


def test_fast_path_equals_the_pipeline_on_the_whole_data_file(loaded_model, insurance_csv):
    rows = pd.read_csv(insurance_csv).drop(columns="charges").to_dict("records")
    truth = predict.predict_charges_pipeline(rows, loaded_model)
    fast = [loaded_model.fast.predict_one(row) for row in rows]
    assert fast == pytest.approx(truth, abs=TOLERANCE, rel=0)


def test_fast_path_equals_the_pipeline_on_random_valid_inputs(loaded_model):
    rows = random_valid_rows(5000, seed=2026)
    truth = predict.predict_charges_pipeline(rows, loaded_model)
    fast = [loaded_model.fast.predict_one(row) for row in rows]
    assert fast == pytest.approx(truth, abs=TOLERANCE, rel=0)


def test_fast_path_equals_one_row_pipeline_calls(loaded_model):
    """The batch call above is vectorised; also compare against the pipeline given one row at a time."""
    for row in random_valid_rows(150, seed=7):
        [truth] = predict.predict_charges_pipeline([row], loaded_model)
        assert loaded_model.fast.predict_one(row) == pytest.approx(truth, abs=TOLERANCE, rel=0)


class CountingFastPath:
    """The model's real fast path, counting its calls."""

    def __init__(self, fast):
        self.fast, self.calls = fast, 0

    def predict_one(self, row):
        self.calls += 1
        return self.fast.predict_one(row)


def test_predict_charges_uses_the_fast_path_for_one_row(loaded_model, valid_inputs):
    # The fast path and the pipeline give the sample patient the same float, so only a count tells them apart.
    model = dataclasses.replace(loaded_model, fast=CountingFastPath(loaded_model.fast))
    assert predict.predict_charges([valid_inputs], model=model) == [loaded_model.fast.predict_one(valid_inputs)]
    assert model.fast.calls == 1
    predict.predict_charges([valid_inputs, valid_inputs], model=model)
    assert model.fast.calls == 1  # several rows go through the pipeline, vectorised


def test_a_pipeline_with_unknown_steps_falls_back_to_its_own_predict(valid_inputs):
    """The tutorial model bins and expands polynomials: no fast path, same answers as its pipeline."""
    tutorial = artifacts.get_model("tutorial-lr-v1")
    assert tutorial.fast is None
    assert predict.predict_charges([valid_inputs], model=tutorial) == predict.predict_charges_pipeline(
        [valid_inputs], tutorial
    )
