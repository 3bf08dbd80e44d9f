"""changes.selectors: which rows are compared, each version's answer for them, and the segments' labels."""

from datetime import datetime
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.utils import timezone

from predictor.changes import selectors
from predictor.forecasts.cohorts import AGE_BANDS
from predictor.ml.interval import interval_group
from predictor.retention import band_label
from tests.factories import ChallengerScoreFactory, ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def versions(active_model_version):
    return active_model_version, ModelVersionFactory(challenger=True), ModelVersionFactory()


def test_a_versions_answer_is_its_own_stored_charge_else_its_score(versions):
    champion, challenger, third = versions
    by_champion = PredictionFactory(model_version=champion, actual_charges=Decimal("1000"), predicted_charges=Decimal("1100"),
                                    predicted_charges_low=Decimal("900"), predicted_charges_high=Decimal("1300"))
    ChallengerScoreFactory(prediction=by_champion, model_version=challenger, charges=Decimal("1050"))
    by_challenger = PredictionFactory(model_version=challenger, actual_charges=Decimal("2000"), predicted_charges=Decimal("2100"))
    ChallengerScoreFactory(prediction=by_challenger, model_version=champion, charges=Decimal("1900"),
                           charges_low=Decimal("1500"), charges_high=Decimal("2500"))
    by_third = PredictionFactory(model_version=third, actual_charges=Decimal("3000"), predicted_charges=Decimal("1"))
    ChallengerScoreFactory(prediction=by_third, model_version=champion, charges=Decimal("3300"))
    ChallengerScoreFactory(prediction=by_third, model_version=challenger, charges=Decimal("2800"))

    rows = selectors.comparison_rows(champion=champion, challenger=challenger)

    assert rows.ids.tolist() == [by_champion.pk, by_challenger.pk, by_third.pk]
    assert rows.actual.tolist() == [1000.0, 2000.0, 3000.0]
    assert rows.champion[0].tolist() == [1100.0, 1900.0, 3300.0]
    assert rows.champion[1][:2].tolist() == [900.0, 1500.0] and rows.champion[2][:2].tolist() == [1300.0, 2500.0]
    assert rows.challenger[0].tolist() == [1050.0, 2100.0, 2800.0]
    assert rows.with_actual == 3 and rows.skipped_not_scored == rows.skipped_anonymised == 0


def test_rows_without_both_answers_are_skipped_and_counted_by_why(versions):
    champion, challenger, _ = versions
    PredictionFactory(model_version=champion, actual_charges=Decimal("1000"))  # not scored yet
    PredictionFactory(model_version=champion, actual_charges=Decimal("1000"), anonymised_at=timezone.now())
    PredictionFactory(model_version=champion)  # no actual charge: not a row at all

    rows = selectors.comparison_rows(champion=champion, challenger=challenger)

    assert len(rows.ids) == 0
    assert (rows.with_actual, rows.skipped_not_scored, rows.skipped_anonymised) == (2, 1, 1)


def test_an_anonymised_row_scored_before_it_was_anonymised_is_compared(versions):
    champion, challenger, _ = versions
    prediction = PredictionFactory(model_version=champion, actual_charges=Decimal("1000"), anonymised_at=timezone.now())
    ChallengerScoreFactory(prediction=prediction, model_version=challenger)

    assert selectors.comparison_rows(champion=champion, challenger=challenger).ids.tolist() == [prediction.pk]


@pytest.mark.parametrize(
    ("age", "bmi", "smoker"),
    [(18, 15.95, "yes"), (29, 15.96, "no"), (30, 18.5, "yes"), (39, 25.0, "no"), (40, 30.0, "yes"), (49, 30.01, "yes"),
     (50, 35.0, "no"), (64, 53.13, "no"), (65, 53.14, "yes"), (100, 70.0, "no")],
)
def test_the_sql_segments_label_a_row_as_the_app_does(versions, age, bmi, smoker):
    champion, challenger, _ = versions
    created = datetime(2026, 3, 31, 23, 30, tzinfo=dt_timezone.utc)
    prediction = PredictionFactory(model_version=champion, actual_charges=Decimal("1"), age=age, bmi=bmi, smoker=smoker,
                                   created_at=created)
    ChallengerScoreFactory(prediction=prediction, model_version=challenger)

    segments = selectors.comparison_rows(champion=champion, challenger=challenger).segments

    band = next(label for label, first, last in AGE_BANDS if last is None or age <= last)
    assert {name: values[0] for name, values in segments.items()} == {
        "smoker": smoker, "region": prediction.region, "sex": prediction.sex, "age_band": band,
        "bmi_band": band_label("bmi", bmi), "interval_group": interval_group({"smoker": smoker, "bmi": bmi}), "month": "2026-03",
    }


def test_segment_counts_count_every_prediction_and_those_with_actual_charges(versions):
    champion, _, _ = versions
    PredictionFactory.create_batch(3, model_version=champion, smoker="yes", actual_charges=Decimal("5"))
    PredictionFactory.create_batch(2, model_version=champion, smoker="yes")
    PredictionFactory.create_batch(4, model_version=champion, smoker="no")

    groups, predictions, with_actual = selectors.segment_counts()

    assert (predictions, with_actual) == (9, 3)
    smoker = [group for group in groups if group[0] == "smoker"]
    assert smoker == [("smoker", "no", 4, 0), ("smoker", "yes", 5, 3)]
    assert [group[0] for group in groups] == sorted((group[0] for group in groups), key=list(selectors.SEGMENTS).index)
    assert sum(count for dimension, _, count, _ in groups if dimension == "age_band") == 9
