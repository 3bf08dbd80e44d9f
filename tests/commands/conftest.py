"""Fixtures of the command tests."""

import pytest

from predictor.examples import SAMPLE_PATIENT
from predictor.features import FEATURES


def patient_args(patient: dict) -> list[str]:
    """A patient as the predict command's options: --age 19 --sex female ..."""
    return [item for name in FEATURES for item in (f"--{name}", str(patient[name]))]


@pytest.fixture
def sample_args() -> list[str]:
    """The sample patient as the predict command's options."""
    return patient_args(SAMPLE_PATIENT)
