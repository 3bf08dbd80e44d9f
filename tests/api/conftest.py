import pytest

from predictor.examples import SECOND_PATIENT
from predictor.security import tokens


@pytest.fixture
def other_patient() -> dict:
    return dict(SECOND_PATIENT)


@pytest.fixture
def staff_token(db, admin_user) -> str:
    """A token of a superuser (staff with every permission)."""
    return tokens.api_token_create(user=admin_user, name="tests")[1]


@pytest.fixture
def bearer(staff_token) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {staff_token}"}
