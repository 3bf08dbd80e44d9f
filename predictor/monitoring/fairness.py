"""Reads: fairness figures by group over the recorded actual charges (live), for the monitoring page and ``fairness_report``.

For a model version (or every version) and a period (days of the predictions, UTC, inclusive), the
predictions with actual charges: by sex, age band, region, smoker and sex × smoker, the n, MAE, bias
(actual − predicted, as elsewhere in monitoring), calibration ratio and 90% interval coverage, each
with a stratified bootstrap interval (``predictor.ml.fairness``). The figures are associations in
past data, not causes; a group under ``MIN_ROWS`` rows is shown without an interval.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np

from ..ml.fairness import BOOTSTRAP_MAX_ROWS, BOOTSTRAP_REPETITIONS, MIN_ROWS, group_figures, group_labels
from django.db import connection

from ..models import ModelVersion, Prediction
from .queries import window

WORDING = (
    "These figures describe how the model's errors were associated with each group in past data: "
    "rows with recorded actual charges, so only patients whose charges were later billed. They are not "
    "causes, they do not show that a group was treated unfairly or fairly, and a group of few rows says "
    f"little: under {MIN_ROWS} rows a group is shown with its n and no interval. Intervals are 95% "
    f"percentile intervals of a bootstrap resampling rows within each group ({BOOTSTRAP_REPETITIONS:,} times), "
    f"or over {BOOTSTRAP_MAX_ROWS:,} rows the normal approximation."
)


CARD_WORDING = (
    "Out-of-fold figures from training: each of 20 random 70/30 splits of the training data refits the model on "
    "70% and scores the other 30%, so every figure is of patients the fitted model had not seen; a patient appears "
    "in several splits, and the intervals resample whole patients within each group. These are associations in "
    "past data (1,338 patients of one public data set) between a group and the model's errors, with their sample "
    "sizes: they are not causes, they do not show that the model treats a group fairly or unfairly, and they say "
    "nothing about groups the data does not hold (no one over 64)."
)


class FairnessUnavailable(ValueError):
    """The figures cannot be given: an unknown model version, a backwards period, or no recorded actual charges."""


def model_version_named(name: str | None) -> ModelVersion | None:
    """The model version of that name (None for every version), or FairnessUnavailable naming the known ones."""
    if not name:
        return None
    version = ModelVersion.objects.filter(name=name).first()
    if version is None:
        known = ", ".join(ModelVersion.objects.order_by("name").values_list("name", flat=True)) or "none yet"
        raise FairnessUnavailable(f"There is no model version {name!r} (known: {known}).")
    return version


def fairness_live(*, model_version: ModelVersion | None, since: date | None, until: date | None) -> dict[str, Any]:
    """The figures by group over the predictions with actual charges (see the module docstring), as JSON-ready data."""
    if since and until and since > until:
        raise FairnessUnavailable(f"The period's first day ({since}) comes after its last day ({until}).")
    where, params = window(since, until, model_version)
    with connection.cursor() as cursor:  # plain tuples of floats: a model instance per row costs 10x more
        cursor.execute(
            "SELECT age, sex, smoker, region, predicted_charges::float8, predicted_charges_low::float8, "
            f"predicted_charges_high::float8, actual_charges::float8 FROM {Prediction._meta.db_table} "
            f"WHERE actual_charges IS NOT NULL AND {where}",
            params,
        )
        records = cursor.fetchall()
    label = model_version.name if model_version else "every model version"
    period = f"from {since or 'the first day'} to {until or 'the last day'} (UTC)"
    if not records:
        raise FairnessUnavailable(f"No recorded actual charges for {label} {period}: no figures to give.")
    age, sex, smoker, region, estimate, low, high, actual = zip(*records)
    with_interval = all(value is not None for value in low) and all(value is not None for value in high)
    figures = group_figures(
        actual=np.array(actual, dtype="float64"),
        estimate=np.array(estimate, dtype="float64"),
        low=np.array(low, dtype="float64") if with_interval else None,
        high=np.array(high, dtype="float64") if with_interval else None,
        groups=group_labels({"age": age, "sex": sex, "smoker": smoker, "region": region}),
    )
    return {
        "model": model_version.name if model_version else None,
        "rows": {"kind": "recorded actual charges", "count": len(records), "since": since.isoformat() if since else None,
                 "until": until.isoformat() if until else None},
        **figures,
        "note": WORDING,
    }
