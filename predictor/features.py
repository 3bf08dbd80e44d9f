"""The model's inputs and the domain-feature step saved inside the charges pipeline.

``InsuranceFeatures`` is the first step of the saved PyCaret pipeline (passed to ``setup`` as
``custom_pipeline``), so unpickling the artifact imports this module: it must never import
PyCaret, and its class name and module path must not change while an artifact uses them.

The charges follow a formula in these features: on the training part a least-absolute-deviation
fit reproduces 91% of the rows to the cent; the rest carry an extra $5k-$26k that no input predicts.
Obesity is ``bmi > 30``: the one training row at exactly 30.0 (a smoker) is charged as non-obese.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

# The six raw inputs, in the order the pipeline was trained on, and the numeric ones.
FEATURES = ("age", "sex", "bmi", "children", "smoker", "region")
NUMERIC_FEATURES = ("age", "bmi", "children")

OBESITY_BMI = 30.0

# Age bands of the forecast's breakdown and of the fairness figures: (label, first age, last age); the last is open-ended.
AGE_BANDS = (("18-29", 18, 29), ("30-39", 30, 39), ("40-49", 40, 49), ("50-64", 50, 64), ("65+", 65, None))

# Columns added to the six raw inputs, in this order.
DOMAIN_FEATURES = ("age_squared", "obese", "smoker_obese", "smoker_bmi")


def is_smoker(value: Any) -> bool:
    """Whether a raw ``smoker`` input means yes."""
    return str(value).strip().lower() == "yes"


class InsuranceFeatures(BaseEstimator, TransformerMixin):
    """Add age², an obesity flag and the smoker × obesity / smoker × BMI interactions to the raw inputs."""

    def __init__(self, obesity_bmi: float = OBESITY_BMI):
        self.obesity_bmi = obesity_bmi

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = pd.DataFrame(X).copy()
        smoker = frame["smoker"].map(is_smoker).astype("float64")
        bmi = frame["bmi"].astype("float64")
        obese = (bmi > self.obesity_bmi).astype("float64")
        frame["age_squared"] = frame["age"].astype("float64") ** 2
        frame["obese"] = obese
        frame["smoker_obese"] = smoker * obese
        frame["smoker_bmi"] = smoker * bmi
        return frame

    def transform_row(self, values: dict[str, Any]) -> None:
        """The same features for one row held in a dict, in place (the pipeline's one-row fast path)."""
        smoker = 1.0 if is_smoker(values["smoker"]) else 0.0
        bmi = float(values["bmi"])
        obese = 1.0 if bmi > self.obesity_bmi else 0.0
        values["age_squared"] = float(values["age"]) ** 2
        values["obese"] = obese
        values["smoker_obese"] = smoker * obese
        values["smoker_bmi"] = smoker * bmi

    def get_feature_names_out(self, input_features=None):
        return [*(input_features if input_features is not None else ()), *DOMAIN_FEATURES]


class FixedInputs(BaseEstimator, TransformerMixin):
    """Set named raw inputs to one fixed value for every row, first, so that a model fitted with this step cannot use
    them (the unaware variant: ``sex``), while it still takes all six. A constant column is what dropping it is to the
    linear estimators here: normalised to zero, its coefficient is zero; the other steps need no change."""

    def __init__(self, values: tuple[tuple[str, Any], ...] = ()):
        self.values = values

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = pd.DataFrame(X).copy()
        for name, value in self.values:
            frame[name] = value
        return frame

    def transform_row(self, values: dict[str, Any]) -> None:
        """The same for one row held in a dict, in place (the pipeline's one-row fast path)."""
        for name, value in self.values:
            values[name] = value

    def get_feature_names_out(self, input_features=None):
        return list(input_features if input_features is not None else ())


# The value FixedInputs holds each dropped input at: BMI 0 also zeroes its derived features.
FIXED_VALUES = {"age": 0, "sex": "female", "bmi": 0.0, "children": 0, "smoker": "no", "region": "northeast"}


def fixed_inputs(names) -> FixedInputs:
    """The step that holds the named inputs at their FIXED_VALUES."""
    return FixedInputs(tuple((name, FIXED_VALUES[name]) for name in names))
