"""selectors: result links, and reading stored predictions and the active model version."""

from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from predictor import selectors, services, serving
from predictor.models import Prediction
from tests.factories import ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def prediction(valid_inputs) -> Prediction:
    return services.prediction_create(**valid_inputs)


# ---------------------------------------------------------------------------
# Result links: a signed prediction id that expires


def test_a_fresh_result_token_finds_its_prediction(prediction):
    assert selectors.prediction_get_by_result_token(selectors.prediction_result_token(prediction)) == prediction


def test_a_result_token_works_until_its_maximum_age_and_not_after(prediction, signing_clock):
    token = selectors.prediction_result_token(prediction)
    signing_clock.advance(selectors.RESULT_MAX_AGE_SECONDS - 1)
    assert selectors.prediction_get_by_result_token(token) == prediction
    signing_clock.advance(2)
    assert selectors.prediction_get_by_result_token(token) is None


def test_the_maximum_age_is_an_hour():
    assert selectors.RESULT_MAX_AGE_SECONDS == 3600


def forgeries(prediction: Prediction, token: str) -> list[str]:
    value, timestamp, signature = token.rsplit(":", 2)
    other = "A" if signature[-1] != "A" else "B"
    return [
        str(prediction.pk),  # the bare id
        f"{value}:{timestamp}:{signature[:-1]}{other}",  # a changed signature
        f"{signing.dumps(prediction.pk + 1, salt='x').rsplit(':', 2)[0]}:{timestamp}:{signature}",  # another id, same signature
        signing.dumps(prediction.pk, salt="another-salt"),  # signed for another purpose
        signing.dumps(prediction.pk, salt=selectors.RESULT_SALT, key="not-the-secret-key"),  # with another key
        "",
        "x" * 500,
    ]


def test_a_forged_result_token_finds_nothing(prediction):
    for forged in forgeries(prediction, selectors.prediction_result_token(prediction)):
        assert selectors.prediction_get_by_result_token(forged) is None, forged


def test_the_token_of_a_deleted_prediction_finds_nothing(prediction):
    token = selectors.prediction_result_token(prediction)
    Prediction.objects.filter(pk=prediction.pk).delete()
    assert selectors.prediction_get_by_result_token(token) is None


# ---------------------------------------------------------------------------
# Reading predictions and model versions


def test_the_list_is_newest_first_with_its_model_version_joined(django_assert_num_queries):
    now = timezone.now()
    old, new = PredictionFactory(created_at=now - timedelta(days=1)), PredictionFactory(created_at=now)
    same_time = PredictionFactory(created_at=now)
    with django_assert_num_queries(1):
        listed = [(p.pk, p.model_version.name) for p in selectors.prediction_list()]
    assert [pk for pk, _ in listed] == [same_time.pk, new.pk, old.pk]


def test_the_history_is_cut_at_since_inclusive_and_until_exclusive():
    now = timezone.now().replace(microsecond=0)
    at = {hours: PredictionFactory(created_at=now - timedelta(hours=hours)) for hours in (3, 2, 1)}
    window = selectors.prediction_history(since=now - timedelta(hours=2), until=now - timedelta(hours=1))
    assert list(window) == [at[2]]
    assert list(selectors.prediction_history()) == [at[1], at[2], at[3]]


def test_prediction_get_finds_one_or_none(prediction):
    assert selectors.prediction_get(prediction_id=prediction.pk) == prediction
    assert selectors.prediction_get(prediction_id=prediction.pk + 1000) is None


@pytest.mark.no_active_model
def test_the_active_model_version_is_none_until_one_is_activated():
    ModelVersionFactory(active=False)
    assert selectors.model_version_active() is None
    version = serving.model_version_activate(name="huber-blend-v1")
    assert selectors.model_version_active() == version
