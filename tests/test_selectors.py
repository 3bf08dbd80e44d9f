"""selectors: result links, reading stored predictions and model versions, and explaining a prediction."""

from datetime import timedelta

import pytest
from django.core import signing
from django.utils import timezone

from predictor import selectors, serving, services
from predictor.features import FEATURES
from predictor.models import Prediction
from predictor import explanations
from predictor.monitoring import cards
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
    version = serving.model_version_activate(name="tutorial-lr-v1")
    assert selectors.model_version_active() == version


# ---------------------------------------------------------------------------
# Explaining a stored prediction


def test_the_sample_patient_is_inside_the_training_ranges_in_a_group_with_its_repeated_split_record(prediction):
    explanation = explanations.prediction_explain(prediction)
    assert explanation.extrapolated == [] and explanation.extrapolated_names == []
    assert explanation.interval_group == explanations.IntervalGroup(
        name="smoker_not_obese",
        label="smokers with a BMI of 30 or less",
        coverage=0.7333,  # predictor/artifacts/huber-blend-v2.json: the holdout's
        overall=0.8881,
        rows=402,
        calibrated_coverage=0.922,  # and interval_calibration's: 20 random 70/30 splits
        calibrated_patients=130,  # smokers with a BMI of 30 or less in the data file
        calibrated_repetitions=20,
    )


def test_a_model_without_repeated_splits_is_explained_by_its_holdout(valid_inputs):
    serving.model_version_activate(name="huber-blend-v1")
    explanation = explanations.prediction_explain(services.prediction_create(**valid_inputs))
    assert explanation.interval_group == explanations.IntervalGroup(
        name="smoker_not_obese",
        label="smokers with a BMI of 30 or less",
        coverage=0.7333,  # predictor/artifacts/huber-blend-v1.json, holdout
        overall=0.8881,
        rows=402,
    )


def test_inputs_outside_the_training_ranges_are_named_with_the_range(valid_inputs):
    prediction = services.prediction_create(**{**valid_inputs, "age": 70, "children": 8})
    explanation = explanations.prediction_explain(prediction)
    assert explanation.extrapolated == [
        explanations.ExtrapolatedInput(name="age", label="Age", value=70, low="18", high="64"),
        explanations.ExtrapolatedInput(name="children", label="Children covered", value=8, low="0", high="5"),
    ]
    assert explanation.extrapolated_names == ["age", "children"]
    assert explanations.prediction_extrapolated(prediction) == ["age", "children"]


def test_a_prediction_without_an_interval_has_no_interval_group(valid_inputs):
    serving.model_version_activate(name="tutorial-lr-v1")
    explanation = explanations.prediction_explain(services.prediction_create(**valid_inputs))
    assert explanation.interval_group is None


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


# ---------------------------------------------------------------------------
# What drives a stored estimate and what would change it: computed, never stored


def test_the_drivers_add_up_to_the_stored_estimate_largest_first(prediction, django_assert_num_queries):
    with django_assert_num_queries(0):
        drivers = explanations.prediction_drivers(prediction)
    total = drivers.base_value + sum(item.dollars for item in drivers.contributions)
    assert abs(total - float(prediction.predicted_charges)) < 0.01
    sizes = [abs(item.dollars) for item in drivers.contributions]
    assert sizes == sorted(sizes, reverse=True) and drivers.largest == sizes[0]
    assert drivers.contributions[0].name == "smoker"  # the sample patient smokes


def test_a_version_whose_artifact_is_gone_is_not_explained():
    prediction = PredictionFactory(model_version=ModelVersionFactory(name="gone-v9"))
    assert explanations.prediction_drivers(prediction) is None
    assert explanations.prediction_what_ifs(prediction) == []


def test_a_smoker_over_bmi_25_gets_three_what_ifs_none_stored(prediction):
    what_ifs = explanations.prediction_what_ifs(prediction)  # the sample patient: a smoker with BMI 27.9
    assert [option.name for option in what_ifs] == ["not_smoking", "bmi_25", "both"]
    not_smoking = what_ifs[0]
    again = services.prediction_create(**{**{name: getattr(prediction, name) for name in FEATURES}, "smoker": "no"})
    assert not_smoking.charges == pytest.approx(float(again.predicted_charges), abs=0.005)
    assert not_smoking.low == pytest.approx(float(again.predicted_charges_low), abs=0.005)
    assert not_smoking.difference == pytest.approx(not_smoking.charges - float(prediction.predicted_charges))
    assert Prediction.objects.count() == 2  # the one above and the check: the what-ifs stored nothing


def test_a_non_smoker_at_bmi_25_or_under_has_no_what_if(valid_inputs):
    prediction = services.prediction_create(**{**valid_inputs, "smoker": "no", "bmi": 24})
    assert explanations.prediction_what_ifs(prediction) == []


CALIBRATED = {
    "interval_calibration": {
        "repetitions": 25,
        "groups": {"smoker_not_obese": {"coverage": 0.84, "patients": 126}},
    }
}


def test_the_interval_note_uses_repeated_splits_when_the_card_has_them(prediction):
    prediction.model_version.card = {**prediction.model_version.card, **CALIBRATED}
    group = explanations.prediction_explain(prediction).interval_group
    assert (group.calibrated_coverage, group.calibrated_patients, group.calibrated_repetitions) == (0.84, 126, 25)


@pytest.mark.parametrize(
    "calibration",
    [None, "text", {"groups": {}}, {"groups": {"smoker_not_obese": {"coverage": 1.7, "patients": 5}}, "repetitions": 20},
     {"smoker_not_obese": {"coverage": 0.8}}],
)
def test_an_unusable_calibration_falls_back_to_the_holdout(prediction, calibration):
    prediction.model_version.card = {**prediction.model_version.card, "interval_calibration": calibration}
    group = explanations.prediction_explain(prediction).interval_group
    assert group.calibrated_coverage is None and group.coverage is not None
