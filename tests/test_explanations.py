"""explanations: a stored prediction explained (training ranges, its interval group), what drives it and what would change it."""


import pytest

from predictor import explanations, services, serving
from predictor.features import FEATURES
from predictor.ml import artifacts
from predictor.models import ModelVersion, Prediction
from tests.factories import ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def prediction(valid_inputs) -> Prediction:
    return services.prediction_create(**valid_inputs)


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


@pytest.mark.no_active_model
def test_a_prediction_without_an_interval_has_no_interval_group(valid_inputs):
    # tutorial-lr-v1 has no interval; below the floor, it can no longer be activated, but a database where it
    # was made active before the floor existed still serves it.
    version = serving.model_version_register(artifacts.get_model("tutorial-lr-v1"))
    ModelVersion.objects.filter(pk=version.pk).update(active=True)
    explanation = explanations.prediction_explain(services.prediction_create(**valid_inputs))
    assert explanation.interval_group is None




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
