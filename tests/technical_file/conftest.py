"""The technical file's fixtures: the issue's scenario (the data file's patients predicted, their actual charges
recorded, one model change made) and provider files."""

from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings

from predictor import serving, services
from predictor.actuals.services import actual_charges_record_many
from predictor.models import Prediction

EXAMPLE = Path(settings.BASE_DIR) / "technical_file.example.yaml"  # the provider fixtures are in tests/conftest.py


@pytest.fixture(scope="session")
def data_file(insurance_csv) -> pd.DataFrame:
    return pd.read_csv(insurance_csv)


@pytest.fixture
def scenario(db, data_file, admin_user):
    """On this test's database: the data file's 1,338 patients predicted by the champion, their real charges
    recorded, and one model change (huber-blend-v1 made the challenger, by a staff user, with a reason)."""
    rows = data_file[["age", "sex", "bmi", "children", "smoker", "region"]].to_dict("records")
    predictions = services.prediction_create_many(rows=rows, source=Prediction.Source.BATCH)
    actual_charges_record_many(
        rows=[(p.pk, charge) for p, charge in zip(predictions, data_file.charges)], recorded_by=admin_user, channel="command"
    )
    serving.model_version_challenger_set(
        name="huber-blend-v1", by=serving.ChangeBy(user=admin_user, reason="compare the older blend on stored patients")
    )
    return predictions
