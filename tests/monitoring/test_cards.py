"""monitoring.cards: what a model card says about its interval groups and its forecasts' calibration."""

import pytest

from predictor.monitoring import cards
from tests.factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------------------
# Reading the cards


def test_the_interval_groups_of_a_version_read_as_signed_dollars(active_model_version):
    # predictor/artifacts/huber-blend-v2.json, as the staff report shows it.
    groups = cards.model_version_interval_groups(active_model_version)
    assert [{key: value for key, value in group.items() if key != "repeated"} for group in groups] == [
        {"name": "non_smoker_not_obese", "label": "non-smokers with a BMI of 30 or less", "low": "-$968", "high": "+$0", "n": 362, "coverage": 0.922},
        {"name": "non_smoker_obese", "label": "non-smokers with a BMI over 30", "low": "-$1,269", "high": "+$7,893", "n": 389, "coverage": 0.9244},
        {"name": "smoker_not_obese", "label": "smokers with a BMI of 30 or less", "low": "-$564", "high": "+$216", "n": 85, "coverage": 0.7333},
        {"name": "smoker_obese", "label": "smokers with a BMI over 30", "low": "-$742", "high": "+$223", "n": 100, "coverage": 0.7955},
    ]
    assert [group["repeated"]["coverage"] for group in groups] == [0.9234, 0.9102, 0.922, 0.8996]


def test_the_forecast_calibration_of_a_version_reads_as_percentages(active_model_version):
    [small, large] = cards.model_version_cohort_calibration(active_model_version)
    # predictor/artifacts/huber-blend-v2.json, cohort_calibration
    assert (small["patients"], small["repetitions"], small["coverage_90"], small["coverage_50"], small["mean_total_error"]) == (
        25, 20, "90.3%", "51.2%", "+1.3%"
    )
    assert (large["patients"], large["coverage_90"], large["coverage_90_ci95"]) == (100, "91.4%", "89.7% to 93.1%")
    assert cards.model_version_cohort_calibration(ModelVersionFactory()) == []


def test_a_version_without_an_interval_has_no_groups():
    assert cards.model_version_interval_groups(ModelVersionFactory()) == []
