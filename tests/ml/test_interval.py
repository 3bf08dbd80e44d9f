"""ml.interval: conformal offsets worked by hand, the groups, and the interval around a point."""

import pytest

from predictor.ml import interval

# Three groups of nine out-of-fold residuals (actual - predicted), interleaved and unsorted, as
# training hands them over. With alpha = 0.2 each group of n = 9 needs k = ceil((9 + 1) x 0.8) = 8
# consecutive sorted residuals, so there are n - k + 1 = 2 windows to choose from: sorted[0..7]
# and sorted[1..8], each widened to hold 0.
RESIDUALS_AND_GROUPS = [
    (15.6, "a"), (5.7, "b"), (-2.5, "c"),
    (-30.4, "a"), (40.0, "b"), (6.25, "c"),
    (1.2, "a"), (3.2, "b"), (-500.0, "c"),
    (100.3, "a"), (42.0, "b"), (0.5, "c"),
    (-5.5, "a"), (7.4, "b"), (3.5, "c"),
    (9.9, "a"), (12.5, "b"), (-1.5, "c"),
    (2.8, "a"), (8.8, "b"), (4.5, "c"),
    (-10.2, "a"), (6.1, "b"), (2.5, "c"),
    (4.1, "a"), (41.0, "b"), (1.5, "c"),
]
# a sorted: -30.4 -10.2 -5.5 1.2 2.8 4.1 9.9 15.6 100.3
#   window 1: -30.4 .. 15.6, width 46.0; window 2: -10.2 .. 100.3, width 110.5 -> window 1,
#   rounded outward to dollars: -31 .. +16.
# b sorted (all above 0): 3.2 5.7 6.1 7.4 8.8 12.5 40.0 41.0 42.0
#   window 1 widened to hold 0: 0 .. 41.0, width 41; window 2: 0 .. 42.0, width 42 -> 0 .. +41.
# c sorted: -500.0 -2.5 -1.5 0.5 1.5 2.5 3.5 4.5 6.25
#   window 1: -500.0 .. 4.5, width 504.5; window 2: -2.5 .. 6.25, width 8.75 -> -3 .. +7.
# The level each group reaches is k / n = 8 / 9 = 0.8889.
EXPECTED = {
    "a": {"low": -31.0, "high": 16.0, "n": 9, "level": 0.8889},
    "b": {"low": 0.0, "high": 41.0, "n": 9, "level": 0.8889},
    "c": {"low": -3.0, "high": 7.0, "n": 9, "level": 0.8889},
}


def test_conformal_offsets_worked_by_hand():
    residuals, groups = zip(*RESIDUALS_AND_GROUPS)
    assert interval.conformal_offsets(list(residuals), list(groups), alpha=0.2) == EXPECTED


def test_with_alpha_0_1_nine_rows_need_all_nine():
    # k = ceil((9 + 1) x 0.9) = 9: the one window is the whole group, -500.0 .. 6.25.
    residuals = [r for r, g in RESIDUALS_AND_GROUPS if g == "c"]
    assert interval.conformal_offsets(residuals, ["c"] * 9, alpha=0.1) == {
        "c": {"low": -500.0, "high": 7.0, "n": 9, "level": 1.0}
    }


def test_a_group_too_small_for_the_level_is_refused():
    # Eight rows at alpha = 0.1: k = ceil((8 + 1) x 0.9) = ceil(8.1) = 9 > 8.
    with pytest.raises(ValueError, match="group small has 8 rows: too few for a 90% interval"):
        interval.conformal_offsets([1.0] * 8 + [2.0] * 20, ["small"] * 8 + ["large"] * 20, alpha=0.1)


@pytest.mark.parametrize(
    "row,group",
    [
        ({"smoker": "yes", "bmi": 30.01}, "smoker_obese"),
        ({"smoker": "yes", "bmi": 30.0}, "smoker_not_obese"),  # obese means a BMI over 30
        ({"smoker": " Yes ", "bmi": "35"}, "smoker_obese"),
        ({"smoker": "no", "bmi": 45}, "non_smoker_obese"),
        ({"smoker": "no", "bmi": 18.5}, "non_smoker_not_obese"),
    ],
)
def test_interval_group_is_smoker_by_obesity(row, group):
    assert interval.interval_group(row) == group


def test_every_group_has_words():
    assert interval.interval_group_label("smoker_not_obese") == "smokers with a BMI of 30 or less"
    assert set(interval.INTERVAL_GROUP_LABELS) == {
        f"{smoker}_{obese}" for smoker in ("smoker", "non_smoker") for obese in ("obese", "not_obese")
    }


CARD_INTERVAL = {"groups": {"non_smoker_not_obese": {"low": -968.0, "high": 0.0}, "smoker_obese": {"low": -742.0, "high": 223.0}}}


def test_the_interval_adds_the_group_s_offsets_to_the_point():
    assert interval.prediction_interval(40_000.0, {"smoker": "yes", "bmi": 35}, CARD_INTERVAL) == (39_258.0, 40_223.0)


def test_the_interval_is_floored_at_zero():
    assert interval.prediction_interval(500.0, {"smoker": "no", "bmi": 22}, CARD_INTERVAL) == (0.0, 500.0)
    assert interval.prediction_interval(-20.0, {"smoker": "no", "bmi": 22}, CARD_INTERVAL) == (0.0, 0.0)


def test_the_interval_uses_the_card_s_obesity_line():
    card_interval = {**CARD_INTERVAL, "obesity_bmi": 25.0}
    # BMI 28 is obese by this card's line, not by the default of 30.
    assert interval.prediction_interval(40_000.0, {"smoker": "yes", "bmi": 28}, card_interval) == (39_258.0, 40_223.0)
