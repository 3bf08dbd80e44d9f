"""Shared fixtures. Tests use the real committed pipeline, loaded once per test run."""

import pytest

from predictor import pipeline, services

VALID_INPUTS = {"age": 19, "sex": "female", "bmi": 27.9, "children": 0, "smoker": "yes", "region": "southwest"}


@pytest.fixture(scope="session")
def loaded_model() -> pipeline.LoadedModel:
    """The committed, hash-verified pipeline (a broken artifact fails the suite here)."""
    return pipeline.get_model()


@pytest.fixture
def active_model_version(db, loaded_model):
    """The ModelVersion row of the served model."""
    return services.model_version_for(loaded_model)


@pytest.fixture
def valid_inputs() -> dict:
    """One realistic patient: the first row of the training data."""
    return dict(VALID_INPUTS)
