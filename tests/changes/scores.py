"""Stored predictions with actual charges and the challenger's scores, for the comparison's tests.

Scores are written directly as ChallengerScore rows (``manage.py challenger_score`` writes the same rows).
"""

from decimal import Decimal

from predictor.models import ModelVersion
from tests.factories import ChallengerScoreFactory, PredictionFactory


def cents(value: float) -> Decimal:
    return Decimal(f"{value:.2f}")


def scored_rows(*, champion: ModelVersion, challenger: ModelVersion, count: int, champion_error, challenger_error,
                challenger_inside=lambda i: True, **prediction_fields):
    """``count`` predictions made by the champion with actual charges, each with the challenger's score.

    Row i: actual 10,000 + 100 i; the champion answers actual + champion_error(i) (its own stored
    charge, interval ± 5,000); the challenger actual + challenger_error(i), with a ± 5,000 interval
    when challenger_inside(i), else one that misses the actual charge.
    """
    rows = []
    for i in range(count):
        actual = 10_000 + 100 * i
        own = actual + champion_error(i)
        prediction = PredictionFactory(
            model_version=champion, actual_charges=cents(actual), predicted_charges=cents(own),
            predicted_charges_low=cents(own - 5000), predicted_charges_high=cents(own + 5000), **prediction_fields,
        )
        score = actual + challenger_error(i)
        low, high = (score - 5000, score + 5000) if challenger_inside(i) else (actual + 1, actual + 2)
        ChallengerScoreFactory(prediction=prediction, model_version=challenger, charges=cents(score),
                               charges_low=cents(low), charges_high=cents(high))
        rows.append(prediction)
    return rows


def better_rows(champion, challenger, count=60):
    """A challenger that errs about $900 less, its interval holding 90% of the actual charges."""
    return scored_rows(champion=champion, challenger=challenger, count=count,
                       champion_error=lambda i: 1000 + 13 * (i % 5), challenger_error=lambda i: -(100 + 7 * (i % 3)),
                       challenger_inside=lambda i: i % 10 != 0)


def worse_rows(champion, challenger, count=60):
    """A challenger that errs about $900 more."""
    return scored_rows(champion=champion, challenger=challenger, count=count,
                       champion_error=lambda i: 100 + 7 * (i % 3), challenger_error=lambda i: -(1000 + 13 * (i % 5)),
                       challenger_inside=lambda i: i % 10 != 0)
