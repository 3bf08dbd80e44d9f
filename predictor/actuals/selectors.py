"""Reads: the predictions with actual charges as training data, for ``manage.py export_training_data``."""

from __future__ import annotations

from collections.abc import Iterator

from ..models import Prediction

TRAINING_COLUMNS = ("age", "sex", "bmi", "children", "smoker", "region", "charges")


def training_rows_count() -> int:
    """How many rows ``training_rows`` holds now."""
    return Prediction.objects.filter(actual_charges__isnull=False, anonymised_at__isnull=True).count()


def training_rows() -> Iterator[tuple]:
    """The predictions with actual charges as rows of the training file (the charges are the actual ones), oldest first.

    Anonymised rows are left out: their bands are not the inputs that were billed.
    """
    return (
        Prediction.objects.filter(actual_charges__isnull=False, anonymised_at__isnull=True)
        .order_by("created_at", "id")
        .values_list("age", "sex", "bmi", "children", "smoker", "region", "actual_charges")
        .iterator(chunk_size=5000)
    )


def training_rows_anonymised() -> int:
    """How many predictions with actual charges ``training_rows`` leaves out because they were anonymised."""
    return Prediction.objects.filter(actual_charges__isnull=False, anonymised_at__isnull=False).count()
