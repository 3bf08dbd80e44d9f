"""Domain features for the charges pipeline, and the prediction interval from the model card.

``InsuranceFeatures`` is the first step of the saved PyCaret pipeline (passed to ``setup`` as
``custom_pipeline``), so unpickling the artifact imports this module: it must never import
PyCaret, and its class name and module path must not change while an artifact uses them.

The charges follow a formula in these features: on the training part a least-absolute-deviation
fit reproduces 91% of the rows to the cent; the rest carry an extra $5k-$26k that no input predicts.
Obesity is ``bmi > 30``: the one training row at exactly 30.0 (a smoker) is charged as non-obese.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

OBESITY_BMI = 30.0

# Columns added to the six raw inputs, in this order.
DOMAIN_FEATURES = ("age_squared", "obese", "smoker_obese", "smoker_bmi")


def _is_smoker(value: Any) -> bool:
    return str(value).strip().lower() == "yes"


class InsuranceFeatures(BaseEstimator, TransformerMixin):
    """Add age², an obesity flag and the smoker × obesity / smoker × BMI interactions to the raw inputs."""

    def __init__(self, obesity_bmi: float = OBESITY_BMI):
        self.obesity_bmi = obesity_bmi

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        frame = pd.DataFrame(X).copy()
        smoker = frame["smoker"].map(_is_smoker).astype("float64")
        bmi = frame["bmi"].astype("float64")
        obese = (bmi > self.obesity_bmi).astype("float64")
        frame["age_squared"] = frame["age"].astype("float64") ** 2
        frame["obese"] = obese
        frame["smoker_obese"] = smoker * obese
        frame["smoker_bmi"] = smoker * bmi
        return frame

    def transform_row(self, values: dict[str, Any]) -> None:
        """The same features for one row held in a dict, in place (the pipeline's one-row fast path)."""
        smoker = 1.0 if _is_smoker(values["smoker"]) else 0.0
        bmi = float(values["bmi"])
        obese = 1.0 if bmi > self.obesity_bmi else 0.0
        values["age_squared"] = float(values["age"]) ** 2
        values["obese"] = obese
        values["smoker_obese"] = smoker * obese
        values["smoker_bmi"] = smoker * bmi

    def get_feature_names_out(self, input_features=None):
        return [*(input_features if input_features is not None else ()), *DOMAIN_FEATURES]


# ---------------------------------------------------------------------------
# Prediction interval (group-conditional split-conformal; parameters live in the model card)


# How the groups read to a person.
INTERVAL_GROUP_LABELS = {
    "smoker_obese": "smokers with a BMI over 30",
    "smoker_not_obese": "smokers with a BMI of 30 or less",
    "non_smoker_obese": "non-smokers with a BMI over 30",
    "non_smoker_not_obese": "non-smokers with a BMI of 30 or less",
}


def interval_group(row: Mapping[str, Any], obesity_bmi: float = OBESITY_BMI) -> str:
    """The interval's group of one row of raw inputs: smoker × obese, e.g. ``"smoker_obese"``."""
    smoker = "smoker" if _is_smoker(row["smoker"]) else "non_smoker"
    obese = "obese" if float(row["bmi"]) > obesity_bmi else "not_obese"
    return f"{smoker}_{obese}"


def prediction_interval(point: float, row: Mapping[str, Any], interval: Mapping[str, Any]) -> tuple[float, float]:
    """The (low, high) charges of the card's prediction interval around a point prediction, floored at 0."""
    offsets = interval["groups"][interval_group(row, interval.get("obesity_bmi", OBESITY_BMI))]
    return max(0.0, point + offsets["low"]), max(0.0, point + offsets["high"])
