"""ml.calibration's parts on their own (the whole repeated-split study runs in the slow retrain, tests/ml/test_training.py)."""

import numpy as np
import pandas as pd
import pytest

from predictor.forms import LIMITS
from predictor.ml import calibration
from predictor.ml.forecast import BASIS

FEATURES = ["age", "sex", "bmi", "children", "smoker", "region"]


@pytest.fixture(scope="module")
def data(insurance_csv):
    return pd.read_csv(insurance_csv)


def test_the_random_check_covers_the_forms_ranges():
    assert calibration.INPUT_RANGES == {name: tuple(map(float, bounds)) if name == "bmi" else bounds for name, bounds in LIMITS.items()}
    inputs = calibration.random_inputs(np.random.default_rng(1), 5000)
    assert inputs["age"].min() == 18 and inputs["age"].max() == 100
    assert 10 <= inputs["bmi"].min() < 11 and 69 < inputs["bmi"].max() <= 70


def test_the_basis_reproduces_a_linear_answer_and_refuses_a_curved_one(data):
    basis = calibration.basis_of(data)
    coef = np.arange(1, len(BASIS) + 1, dtype=float)
    found, worst = calibration.linear_coefficients(basis, basis @ coef, tolerance=1e-6, what="A linear answer")
    assert found == pytest.approx(coef) and worst < 1e-6
    curved = basis @ coef + 0.5 * data["bmi"].to_numpy() ** 2  # BMI² is not in the basis
    with pytest.raises(calibration.NotLinearInBasis, match="off by up to"):
        calibration.linear_coefficients(basis, curved, tolerance=calibration.SERVED_TOLERANCE, what="A curved answer")


def test_bootstrap_deviations_are_centred_and_reproducible(loaded_model, data):
    residuals = {"non_smoker_obese": np.array([-100.0, 0.0, 50.0, 9000.0]), "smoker_obese": np.array([-20.0, 30.0])}

    def fit(seed):
        return calibration.model_error_fit(loaded_model.pipeline, data[FEATURES], data["charges"], residuals,
                                           refits=4, rng=np.random.default_rng(seed))

    first = fit(5)
    assert first["coef_deviations"].shape == (4, len(BASIS))
    assert np.abs(first["coef_deviations"].mean(axis=0)).max() < 1e-6
    assert all(abs(values.mean()) < 1e-9 and len(values) == 4 for values in first["mean_deviations"].values())
    # The refits do move the coefficients (the model error is not zero), and a seed fixes them.
    assert np.abs(first["coef_deviations"]).max() > 1
    again = fit(5)
    assert np.array_equal(first["coef_deviations"], again["coef_deviations"])
