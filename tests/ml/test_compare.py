"""ml.compare: the paired comparison against scipy and statsmodels, a hand-worked fixture, and the verdict's rule."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from predictor.ml import compare

# ---------------------------------------------------------------------------
# A hand-worked fixture: five rows.
#   actual      100  200  300  400  500
#   champion    110  190  330  380  500   |error| 10 10 30 20  0   MAE 14, errors −10 10 −30 20 0
#   challenger  105  200  310  390  520   |error|  5  0 10 10 20   MAE 9
#   d = −5 −10 −20 −10 20: mean −5; deviations 0 −5 −15 −5 25, Σ² = 900, s² = 900/4 = 225, s = 15;
#   standard error 15/√5 = 6.708204; t(4) 97.5% = 2.776445 (the table's); half-width 18.624922.
#   Champion: bias −10/5 = −2, RMSE √((100+100+900+400+0)/5) = √300 = 17.320508.
#   Challenger interval: estimate ± 15 holds 100, 200, 300, 400, not 500: coverage 4/5, width 30.
HAND = {
    "actual": [100.0, 200.0, 300.0, 400.0, 500.0],
    "champion": [110.0, 190.0, 330.0, 380.0, 500.0],
    "challenger": [105.0, 200.0, 310.0, 390.0, 520.0],
}


def answers(name, estimate, half_width=None):
    estimate = np.asarray(estimate, dtype="float64")
    if half_width is None:
        return compare.Answers(name, estimate, np.full_like(estimate, np.nan), np.full_like(estimate, np.nan))
    return compare.Answers(name, estimate, estimate - half_width, estimate + half_width)


def test_the_hand_worked_rows_give_the_hand_worked_figures():
    actual = np.array(HAND["actual"])
    figures = compare.comparison(
        actual=actual, champion=answers("champ", HAND["champion"]), challenger=answers("chall", HAND["challenger"], 15.0),
        segments={}, margin=50.0,
    )

    assert figures["n"] == 5
    assert figures["champion"]["mae"] == 14.0 and figures["challenger"]["mae"] == 9.0
    assert figures["champion"]["bias"]["mean"] == -2.0
    assert figures["champion"]["rmse"] == round(math.sqrt(300), 2) == 17.32
    assert figures["champion"]["coverage"] is None and figures["champion"]["mean_interval_width"] is None
    assert figures["challenger"]["coverage"]["rate"] == 0.8 and figures["challenger"]["coverage"]["n"] == 5
    assert figures["challenger"]["mean_interval_width"] == 30.0
    difference = figures["difference"]
    assert difference["mean"] == -5.0
    assert difference["low"] == round(-5 - 2.776445 * 15 / math.sqrt(5), 2) == -23.62
    assert difference["high"] == round(-5 + 2.776445 * 15 / math.sqrt(5), 2) == 13.62
    assert figures["mae_ratio"]["value"] == pytest.approx(9 / 14, abs=1e-12)
    # Five rows are too few for a verdict.
    assert figures["verdict"] == "not_enough_evidence"


def test_the_hand_worked_holm_adjustment():
    # Sorted: 0.005×4 = 0.02, 0.01×3 = 0.03, 0.03×2 = 0.06, 0.04×1 = 0.04 → kept at 0.06 (step-down).
    adjusted, ranks = compare.holm([0.01, 0.04, 0.03, 0.005])

    assert adjusted.tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert ranks.tolist() == [2, 4, 3, 1]


@pytest.fixture(scope="module")
def paired():
    """600 rows: charges like the data file's, a champion and a slightly better challenger, seven dimensions."""
    rng = np.random.default_rng(11)
    n = 600
    actual = rng.gamma(2.0, 6000.0, n).round(2)
    champion = (actual + rng.normal(0, 3000, n)).round(2)
    challenger = (actual + rng.normal(0, 2800, n)).round(2)
    segments = {
        "smoker": rng.choice(["yes", "no"], n, p=[0.2, 0.8]),
        "region": rng.choice(["northeast", "northwest", "southeast", "southwest"], n),
        "month": rng.choice(["2026-01", "2026-02", "2026-03"], n, p=[0.45, 0.45, 0.10]),
        "tiny": np.where(np.arange(n) < 20, "few", "many"),  # "few" has 20 rows: not shown
    }
    return actual, champion, challenger, segments


def test_the_overall_difference_equals_scipys_paired_t_test(paired):
    actual, champion, challenger, segments = paired
    figures = compare.comparison(
        actual=actual, champion=answers("a", champion), challenger=answers("b", challenger), segments=segments, margin=50.0
    )

    oracle = scipy_stats.ttest_rel(np.abs(actual - challenger), np.abs(actual - champion))
    interval = oracle.confidence_interval(confidence_level=0.95)
    d = np.abs(actual - challenger) - np.abs(actual - champion)
    assert figures["difference"]["mean"] == pytest.approx(d.mean(), abs=0.005)
    assert figures["difference"]["low"] == pytest.approx(interval.low, abs=0.005)
    assert figures["difference"]["high"] == pytest.approx(interval.high, abs=0.005)
    assert figures["difference"]["p_value"] == pytest.approx(oracle.pvalue, abs=1e-6)


def test_the_mae_ratio_interval_equals_scipys_paired_bootstrap(paired):
    actual, champion, challenger, _ = paired
    figures = compare.comparison(
        actual=actual, champion=answers("a", champion), challenger=answers("b", challenger), segments={}, margin=50.0, seed=7
    )

    oracle = scipy_stats.bootstrap(
        (np.abs(actual - challenger), np.abs(actual - champion)),
        lambda a, b, axis: a.mean(axis=axis) / b.mean(axis=axis),
        paired=True, vectorized=True, n_resamples=compare.BOOTSTRAP_RESAMPLES, method="percentile",
        confidence_level=0.95, random_state=np.random.default_rng(7),
    )
    ratio = figures["mae_ratio"]
    assert ratio["value"] == pytest.approx(np.abs(actual - challenger).mean() / np.abs(actual - champion).mean(), abs=1e-12)
    assert ratio["low"] == pytest.approx(oracle.confidence_interval.low, abs=1e-6)
    assert ratio["high"] == pytest.approx(oracle.confidence_interval.high, abs=1e-6)
    assert ratio["seed"] == 7 and ratio["resamples"] == compare.BOOTSTRAP_RESAMPLES


def test_the_bootstrap_draws_the_same_rows_in_batches_as_at_once(paired, monkeypatch):
    actual, champion, challenger, _ = paired
    a, b = np.abs(actual - champion), np.abs(actual - challenger)
    whole = compare.mae_ratio(a, b, seed=3)
    monkeypatch.setattr(compare, "BOOTSTRAP_BATCH_CELLS", len(actual) * 7)  # 7 resamples a batch

    assert compare.mae_ratio(a, b, seed=3) == whole


def test_segments_are_holm_adjusted_as_statsmodels_does_with_intervals_at_each_ranks_holm_level(paired):
    actual, champion, challenger, segments = paired
    figures = compare.comparison(
        actual=actual, champion=answers("a", champion), challenger=answers("b", challenger), segments=segments, margin=50.0
    )
    shown = figures["segments"]

    assert ("tiny", "few") not in {(part["dimension"], part["group"]) for part in shown}
    assert {(part["dimension"], part["group"]) for part in shown} >= {("smoker", "yes"), ("month", "2026-03"), ("tiny", "many")}
    raw = []
    for part in shown:
        rows = np.asarray(segments[part["dimension"]]) == part["group"]
        assert part["n"] == rows.sum() >= 30
        raw.append(scipy_stats.ttest_rel(np.abs(actual - challenger)[rows], np.abs(actual - champion)[rows]))
    reject, adjusted, _, _ = multipletests([test.pvalue for test in raw], alpha=0.05, method="holm")
    ranks = scipy_stats.rankdata([test.pvalue for test in raw], method="ordinal")
    for part, test, p_adjusted, rank, rejected in zip(shown, raw, adjusted, ranks, reject):
        level = 1 - 0.05 / (len(shown) - rank + 1)
        interval = test.confidence_interval(confidence_level=level)
        assert part["difference"]["p_value"] == pytest.approx(p_adjusted, abs=1e-6)
        assert part["difference"]["p_value_unadjusted"] == pytest.approx(test.pvalue, abs=1e-6)
        assert part["difference"]["level"] == pytest.approx(level, abs=1e-12)
        assert part["difference"]["low"] == pytest.approx(interval.low, abs=0.005)
        assert part["difference"]["high"] == pytest.approx(interval.high, abs=0.005)
        if rejected:  # what Holm rejects, its interval excludes
            assert part["difference"]["low"] > 0 or part["difference"]["high"] < 0


def test_holm_equals_statsmodels_on_many_p_values():
    p = np.random.default_rng(5).uniform(0, 0.2, 40) ** 2

    assert compare.holm(p)[0] == pytest.approx(multipletests(p, method="holm")[1], abs=1e-12)


def test_coverage_has_the_wilson_interval_statsmodels_gives():
    rng = np.random.default_rng(2)
    actual = rng.normal(10_000, 2_000, 200)
    estimate = actual + rng.normal(0, 2_000, 200)
    figures = compare.version_figures(actual, answers("v", estimate, 3_000.0))

    inside = int((np.abs(actual - estimate) <= 3_000).sum())
    low, high = proportion_confint(inside, 200, alpha=0.05, method="wilson")
    assert figures["coverage"]["rate"] == inside / 200
    assert figures["coverage"]["low"] == pytest.approx(low, abs=1e-9)
    assert figures["coverage"]["high"] == pytest.approx(high, abs=1e-9)


# ---------------------------------------------------------------------------
# The verdict


def diff(low, high):
    return {"mean": (low + high) / 2, "low": low, "high": high, "p_value": 0.01}


COVERED = {"rate": 0.9, "low": 0.88, "high": 0.92, "n": 500}


def segment(low, high):
    return {"dimension": "smoker", "group": "yes", "n": 100, "difference": diff(low, high)}


@pytest.mark.parametrize(
    ("interval", "expected"),
    [((-120.0, -10.0), "better"), ((-20.0, 40.0), "not_worse"), ((10.0, 80.0), "worse"), ((60.0, 200.0), "worse"),
     ((-30.0, 60.0), "not_enough_evidence")],
)
def test_the_verdict_follows_the_overall_interval(interval, expected):
    chosen, reasons = compare.verdict(n=500, difference=diff(*interval), segments=[], coverage=COVERED, margin=50.0)

    assert chosen == expected and reasons


def test_a_segment_wholly_above_the_margin_makes_a_better_challenger_worse():
    chosen, reasons = compare.verdict(
        n=500, difference=diff(-120.0, -10.0), segments=[segment(55.0, 400.0)], coverage=COVERED, margin=50.0
    )

    assert chosen == "worse" and "smoker yes" in reasons[1]


def test_a_segment_reaching_below_the_margin_does_not():
    assert compare.verdict(
        n=500, difference=diff(-120.0, -10.0), segments=[segment(45.0, 400.0)], coverage=COVERED, margin=50.0
    )[0] == "better"


@pytest.mark.parametrize("coverage", [{"rate": 0.86, "low": 0.8, "high": 0.9, "n": 500}, {"rate": 0.94, "low": 0.9, "high": 0.96, "n": 500}, None])
def test_a_challenger_coverage_outside_87_to_93_percent_or_missing_is_worse(coverage):
    chosen, reasons = compare.verdict(n=500, difference=diff(-120.0, -10.0), segments=[], coverage=coverage, margin=50.0)

    assert chosen == "worse" and "90% interval" in reasons[1]


def test_fewer_than_30_rows_are_not_enough_evidence():
    assert compare.verdict(n=29, difference=diff(-120.0, -10.0), segments=[], coverage=COVERED, margin=50.0)[0] == "not_enough_evidence"


def test_the_rule_in_words_names_the_margin():
    assert "$75 a patient" in compare.rule_words(75.0) and "87%" in compare.rule_words(75.0)


def test_a_segment_is_under_represented_only_beyond_chance():
    rows = compare.representation(
        [("smoker", "yes", 1000, 100), ("smoker", "no", 4000, 2400), ("region", "tiny", 5, 1)],
        predictions=5000, with_actual=2500,
    )

    assert [row["under_represented"] for row in rows] == [True, False, False]
    assert rows[0]["share"] == 0.1 and rows[1]["share"] == 0.6


def test_identical_answers_differ_by_exactly_0_and_are_not_worse():
    # scipy's t test gives NaN when every difference is the same; the interval is then that value.
    actual = np.linspace(1_000, 40_000, 100)
    same = actual + np.where(np.arange(100) % 10 == 0, 9_000.0, 100.0)
    figures = compare.comparison(
        actual=actual, champion=answers("a", same, 1_000.0), challenger=answers("b", same, 1_000.0), segments={}, margin=50.0
    )

    assert figures["difference"] == {"mean": 0.0, "low": 0.0, "high": 0.0, "p_value": 1.0}
    assert figures["challenger"]["coverage"]["rate"] == 0.9
    assert figures["verdict"] == "not_worse" and figures["mae_ratio"]["low"] == figures["mae_ratio"]["high"] == 1.0


def test_past_20000_rows_the_bootstrap_takes_fewer_resamples_and_still_draws_as_scipy(paired, monkeypatch):
    assert [compare.bootstrap_resamples(n) for n in (1338, 20_000, 100_000, 1_000_000)] == [2000, 2000, 400, 200]
    actual, champion, challenger, _ = paired
    monkeypatch.setattr(compare, "BOOTSTRAP_MAX_DRAWS", len(actual) * 300)  # as if 600 rows were many

    ratio = compare.mae_ratio(np.abs(actual - champion), np.abs(actual - challenger), seed=9)

    oracle = scipy_stats.bootstrap(
        (np.abs(actual - challenger), np.abs(actual - champion)), lambda a, b, axis: a.mean(axis=axis) / b.mean(axis=axis),
        paired=True, vectorized=True, n_resamples=300, method="percentile", random_state=np.random.default_rng(9),
    )
    assert ratio["resamples"] == 300
    assert (ratio["low"], ratio["high"]) == pytest.approx(tuple(oracle.confidence_interval), abs=1e-6)
