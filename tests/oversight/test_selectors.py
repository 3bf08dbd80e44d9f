"""The overrides' figures for monitoring, against hand-worked values and scipy's t interval."""

import math
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from scipy import stats as scipy_stats

from predictor.models import ChargeOverride
from predictor.oversight import selectors
from predictor.oversight import services as oversight
from tests.factories import PredictionFactory


@pytest.fixture
def reviewed_history(reviewer):
    """Four predictions (estimate, actual): three overridden, one of them twice, the latest being in force."""
    rows = {
        "p1": PredictionFactory(predicted_charges=Decimal("1000"), actual_charges=Decimal("1200")),
        "p2": PredictionFactory(predicted_charges=Decimal("2000"), actual_charges=Decimal("1800")),
        "p3": PredictionFactory(predicted_charges=Decimal("3000")),
        "p4": PredictionFactory(predicted_charges=Decimal("4000"), actual_charges=Decimal("4100")),
    }
    for name, charges in (("p1", "1100"), ("p1", "1150"), ("p2", "1900"), ("p3", "3300")):
        oversight.charge_override_record(
            prediction_id=rows[name].pk, reviewed_charges=charges, reason="review", user=reviewer, channel="admin"
        )
    return rows


def test_the_latest_override_is_the_reviewed_charge_in_force(reviewed_history):
    latest = selectors.charge_override_latest(prediction_id=reviewed_history["p1"].pk)
    assert (latest.previous_charges, latest.reviewed_charges) == (Decimal("1100"), Decimal("1150"))
    assert selectors.charge_override_latest(prediction_id=reviewed_history["p4"].pk) is None


def test_the_figures_count_the_overrides_and_compare_estimate_and_reviewed_charge_on_the_same_rows(reviewed_history):
    figures = selectors.override_figures(since=None, until=None, model_version=None)

    assert (figures.predictions, figures.overridden, figures.overrides) == (4, 3, 4)
    changes = [150, -100, 300]  # latest reviewed − estimate of p1, p2, p3
    low, high = scipy_stats.t.interval(0.95, df=2, loc=sum(changes) / 3, scale=scipy_stats.sem(changes))
    assert figures.change.value == pytest.approx(350 / 3)
    assert (figures.change.low, figures.change.high) == (pytest.approx(low), pytest.approx(high))
    # On p1 and p2 (the overridden rows with actual charges): errors of the estimate 200 and -200, of the reviewed charge 50 and -100.
    assert (figures.estimate.n, figures.estimate.mae, figures.estimate.bias.value) == (2, pytest.approx(200), pytest.approx(0))
    assert (figures.reviewed.n, figures.reviewed.mae, figures.reviewed.bias.value) == (2, pytest.approx(75), pytest.approx(-25))
    assert figures.reviewed.rmse == pytest.approx(math.sqrt((50**2 + 100**2) / 2))
    assert figures.estimate.coverage is None  # these rows have no interval


def test_a_window_without_predictions_has_no_override_figures(reviewed_history):
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    figures = selectors.override_figures(since=tomorrow, until=None, model_version=None)
    assert (figures.predictions, figures.overridden, figures.overrides, figures.change, figures.estimate) == (0, 0, 0, None, None)


def test_the_window_of_one_model_version_counts_only_its_predictions(reviewed_history):
    version = reviewed_history["p2"].model_version  # each factory row has its own version
    figures = selectors.override_figures(since=None, until=None, model_version=version)
    assert (figures.predictions, figures.overridden, figures.overrides) == (1, 1, 1)
    assert ChargeOverride.objects.count() == 4
