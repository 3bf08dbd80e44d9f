"""challenger.scores: every stored prediction scored by the challenger (and the champion), once, in chunks."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.db import DatabaseError
from django.utils import timezone

from predictor import retention, serving, services
from predictor.changes.scores import NoChallengerError, challenger_score
from predictor.ml import artifacts, predict
from predictor.models import ChallengerScore, ModelVersion, Prediction
from tests.factories import random_valid_rows

pytestmark = pytest.mark.django_db


def cents(value: float | None) -> Decimal | None:
    """To the cent as the app stores charges: the shortest repr, rounded half up (away from zero)."""
    return None if value is None else Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
def history(loaded_model):
    """40 rows made by the champion (huber-blend-v2), then 25 made by huber-blend-v1 while it served, then the
    champion back and huber-blend-v1 the challenger."""
    services.prediction_create_many(rows=random_valid_rows(40, seed=1), source="api")
    serving.model_version_activate(name="huber-blend-v1")
    services.prediction_create_many(rows=random_valid_rows(25, seed=2), source="api")
    serving.model_version_activate(name=loaded_model.name)
    serving.model_version_challenger_set(name="huber-blend-v1")
    return loaded_model


def scores_of(name: str) -> dict[int, tuple]:
    return {
        score.prediction_id: (score.charges, score.charges_low, score.charges_high)
        for score in ChallengerScore.objects.filter(model_version__name=name)
    }


def expected_scores(name: str, predictions) -> dict[int, tuple]:
    """The oracle: each row alone through predict_charges_with_interval (the fast path), to the cent."""
    model = artifacts.get_model(name)
    return {
        prediction.pk: tuple(
            cents(value) for value in predict.predict_charges_with_interval([_inputs(prediction)], model)[0]
        )
        for prediction in predictions
    }


def _inputs(prediction: Prediction) -> dict:
    return {name: getattr(prediction, name) for name in ("age", "sex", "bmi", "children", "smoker", "region")}


def test_the_challenger_scores_the_rows_others_made_and_the_champion_those_of_others(history):
    outcome = challenger_score(chunk_size=7)
    by_champion = Prediction.objects.filter(model_version__name=history.name)
    by_challenger = Prediction.objects.filter(model_version__name="huber-blend-v1")
    assert [(part.version.name, part.role, part.scored, part.skipped_anonymised) for part in outcome.versions] == [
        ("huber-blend-v1", "challenger", 40, 0),
        (history.name, "champion", 25, 0),
    ]
    assert scores_of("huber-blend-v1") == expected_scores("huber-blend-v1", by_champion)
    assert scores_of(history.name) == expected_scores(history.name, by_challenger)
    # Both answers for every row: its own (stored) and the other version's (scored)
    assert ChallengerScore.objects.count() == Prediction.objects.count() == 65


def test_a_second_run_scores_nothing_and_new_rows_are_scored_next_time(history):
    challenger_score()
    before = list(ChallengerScore.objects.values_list("id", "charges", "scored_at"))
    assert challenger_score().scored == 0
    assert list(ChallengerScore.objects.values_list("id", "charges", "scored_at")) == before
    services.prediction_create_many(rows=random_valid_rows(3, seed=3), source="web")
    assert [part.scored for part in challenger_score().versions] == [3, 0]


def test_rows_anonymised_by_retention_are_skipped_and_counted(history):
    old = list(Prediction.objects.filter(model_version__name=history.name).order_by("id")[:10].values_list("id", flat=True))
    Prediction.objects.filter(pk__in=old).update(created_at=timezone.now() - timedelta(days=800))
    retention.predictions_anonymise(cutoff=timezone.now() - timedelta(days=365))
    outcome = challenger_score()
    assert [(part.scored, part.skipped_anonymised) for part in outcome.versions] == [(30, 10), (25, 0)]
    assert not ChallengerScore.objects.filter(prediction_id__in=old).exists()


def test_scores_go_with_their_prediction_when_retention_deletes_it(history):
    challenger_score()
    old = list(Prediction.objects.order_by("id")[:12].values_list("id", flat=True))
    Prediction.objects.filter(pk__in=old).update(created_at=timezone.now() - timedelta(days=800))
    outcome = retention.predictions_delete(cutoff=timezone.now() - timedelta(days=365))
    assert outcome.predictions == 12
    assert outcome.other_deleted == {ChallengerScore._meta.label: 12}
    assert not ChallengerScore.objects.filter(prediction_id__in=old).exists()
    assert ChallengerScore.objects.count() == 65 - 12


def test_a_challenger_below_the_floor_is_scored_with_its_negative_answers(loaded_model):
    services.prediction_create_many(rows=[{"age": 18, "sex": "male", "bmi": 70, "children": 0, "smoker": "no",
                                           "region": "southeast"}], source="api")
    serving.model_version_challenger_set(name="tutorial-lr-v1")
    challenger_score()
    [(charges, low, high)] = scores_of("tutorial-lr-v1").values()
    assert charges < -15_000 and low is None and high is None  # a model without an interval


def test_charges_are_stored_to_the_cent_as_the_predictions_are_half_away_from_zero():
    from predictor.changes.scores import _money_text
    from predictor.pg_copy import cents_text

    values = [0.125, 2.675, -0.125, -15525.815, 1234.5, 1e-9, 99999.994999999, 17076.04]
    # The database rounds the repr text of each value; cents_text is the app's rounding of stored charges
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT unnest(%s::text[])::numeric(12, 2)::text", [_money_text(values)])
        rounded = [text for (text,) in cursor.fetchall()]
    assert rounded == cents_text(values) == [str(cents(value)) for value in values]


def test_each_chunk_is_stored_whole_or_not_at_all(history):
    # A real refusal in the third chunk: an input no person has, whose answer overflows the charge column
    ids = list(Prediction.objects.filter(model_version__name=history.name).order_by("id").values_list("id", flat=True))
    Prediction.objects.filter(pk=ids[25]).update(bmi=1e12)
    with pytest.raises(DatabaseError):
        challenger_score(chunk_size=10)
    assert sorted(scores_of("huber-blend-v1")) == ids[:20]  # chunks 1 and 2 stay; not a row of chunk 3


def test_no_challenger_is_an_error_and_stores_nothing(loaded_model):
    services.prediction_create_many(rows=random_valid_rows(3, seed=4), source="api")
    with pytest.raises(NoChallengerError, match="challenger_set"):
        challenger_score()
    assert not ChallengerScore.objects.exists()


def test_a_challenger_whose_artifact_no_longer_matches_is_refused(history):
    ModelVersion.objects.filter(name="huber-blend-v1").update(sha256="0" * 64)
    with pytest.raises(artifacts.ModelArtifactError, match="refusing to score with it"):
        challenger_score()
    assert not ChallengerScore.objects.exists()


def test_a_second_run_while_one_is_scoring_is_refused_and_scores_nothing(history):
    import psycopg2
    from django.db import connection

    from predictor.changes.scores import ScoringBusyError
    from predictor.changes.scores import SCORING_LOCK_KEY

    params = connection.get_connection_params()
    other = psycopg2.connect(**{key: params[key] for key in ("dbname", "user", "host", "port", "password") if params.get(key)})
    try:
        with other.cursor() as cursor:  # another run, in another session, holds the lock
            cursor.execute("SELECT pg_advisory_lock(%s)", [SCORING_LOCK_KEY])
        with pytest.raises(ScoringBusyError, match="Another challenger_score is running"):
            challenger_score()
        assert not ChallengerScore.objects.exists()
    finally:
        other.close()
    assert challenger_score().scored == 65  # the lock went with the other session
