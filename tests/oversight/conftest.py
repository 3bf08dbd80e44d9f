"""Fixtures of the oversight tests: a stored prediction, and staff with or without the permissions."""

import pytest

from predictor import services
from predictor.examples import SAMPLE_PATIENT
from tests.logins import staff_with_permissions


@pytest.fixture
def reviewer(db, django_user_model):
    """Staff who may read the history and override an estimate."""
    return staff_with_permissions(django_user_model, "reviewer", "view_prediction", "record_override")


@pytest.fixture
def reader(db, django_user_model):
    """Staff who may read the history, but neither override nor pause."""
    return staff_with_permissions(django_user_model, "reader", "view_prediction")


@pytest.fixture
def operator(db, django_user_model):
    """Staff who may pause and resume the service (and read its record)."""
    return staff_with_permissions(django_user_model, "operator", "change_serving", "view_servingchange")


@pytest.fixture
def stored(db):
    """One prediction of the sample patient by the served model, as the form stores it."""
    return services.prediction_create(**SAMPLE_PATIENT, source="web")
