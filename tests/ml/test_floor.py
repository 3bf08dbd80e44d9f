"""ml.floor: the grid over the accepted inputs, the lowest answer on it, and the refusal that says where."""

import itertools

import numpy as np
import pytest

from predictor.ml import artifacts, floor, predict
from tests import golden

# The accepted ranges and choices, written out here (the app's own come from the form: tests/test_serving.py).
AXES_BY_HAND = {
    "age": (18, 27, 36, 45, 54, 64, 73, 82, 91, 100),
    "sex": ("female", "male"),
    "bmi": tuple(10 + 60 * step / 9 for step in range(10)),
    "children": tuple(range(11)),
    "smoker": ("yes", "no"),
    "region": ("northeast", "northwest", "southeast", "southwest"),
}


@pytest.fixture(scope="module")
def axes():
    return floor.grid_axes(
        limits={"age": (18, 100), "bmi": (10, 70), "children": (0, 10)},
        whole=("age", "children"),
        choices={name: AXES_BY_HAND[name] for name in ("sex", "smoker", "region")},
    )


def test_the_grid_takes_ten_values_across_each_range_every_child_and_every_choice(axes):
    assert list(axes) == ["age", "sex", "bmi", "children", "smoker", "region"]
    assert axes["age"] == AXES_BY_HAND["age"]
    assert axes["bmi"] == pytest.approx(AXES_BY_HAND["bmi"])
    assert axes["children"] == AXES_BY_HAND["children"]
    frame = floor.floor_grid(axes)
    assert len(frame) == 10 * 2 * 10 * 11 * 2 * 4 == 17_600
    assert len(frame.drop_duplicates()) == len(frame)


def test_the_tutorial_model_goes_below_zero_where_the_issue_says(axes):
    tutorial = artifacts.get_model("tutorial-lr-v1")
    verdict = floor.floor_check(tutorial, axes)
    assert not verdict.holds and verdict.rows == 17_600 and verdict.below > 0
    assert verdict.lowest_inputs == {"age": 18, "sex": "male", "bmi": 70.0, "children": 0, "smoker": "no", "region": "southeast"}
    assert verdict.lowest == pytest.approx(-15_525.82, abs=golden.tolerance("tutorial-lr-v1"))
    # The same answer through the row-by-row path, an independent route to the pipeline (to the
    # tutorial model's own noise across batch sizes, as its golden answers are checked)
    [again] = predict.predict_charges_pipeline([verdict.lowest_inputs], tutorial)
    assert again == pytest.approx(verdict.lowest, abs=golden.tolerance("tutorial-lr-v1"))
    with pytest.raises(floor.BelowFloorError) as refused:
        floor.floor_require(tutorial, axes)
    message = str(refused.value)
    assert message.startswith("tutorial-lr-v1 answers -$15,5")
    assert "age 18, sex male, bmi 70, children 0, smoker no, region southeast" in message
    assert f"{verdict.below:,} of its answers on a grid of 17,600 inputs" in message


@pytest.mark.parametrize("name", ["huber-blend-v1", "huber-blend-v2"])
def test_the_huber_blends_stay_above_1400_dollars_on_the_grid(axes, name):
    model = artifacts.get_model(name)
    verdict = floor.floor_require(model, axes)
    assert verdict.holds and verdict.below == 0 and verdict.lowest > 1_400
    # An oracle apart from the module: the pipeline on every combination, built here by itself
    rows = [dict(zip(AXES_BY_HAND, values)) for values in itertools.product(*AXES_BY_HAND.values())]
    answers = np.asarray(predict.predict_charges_pipeline(rows, model))
    assert answers.min() == pytest.approx(verdict.lowest, abs=0.01)
    assert "lowest answer on the grid of 17,600 inputs is $1," in verdict.describe(name)


def test_the_verdict_is_computed_once_per_artifact_hash(axes, artifact_copy):
    served = artifacts.get_model()
    first = floor.floor_check(served, axes)
    # A new computation makes a new verdict; the same bytes, even loaded again from another file, do not
    copy = artifacts.load_model_artifact(artifact_copy)
    assert copy is not served and copy.sha256 == served.sha256
    assert floor.floor_check(served, axes) is first
    assert floor.floor_check(copy, axes) is first
    other = floor.floor_check(artifacts.get_model("huber-blend-v1"), axes)
    assert other is not first and other.sha256 != first.sha256
