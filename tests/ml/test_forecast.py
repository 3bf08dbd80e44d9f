"""ml.forecast: the exact distribution of a total, against enumeration, a binomial worked by hand, brute-force
seeded Monte Carlo and the normal limit (scipy); the committed card's distribution against its pipeline."""

import itertools
import json
import math

import numpy as np
import pytest
from scipy import stats

from predictor.ml import artifacts
from predictor.ml.calibration import basis_of, groups_of, random_inputs
from predictor.ml.forecast import (
    BASIS,
    NoDistribution,
    PredictiveDistribution,
    SumOfDraws,
    basis_rows,
    basis_sums,
    convolve,
    interval_group_of,
    lattice_from_atoms,
)
from predictor.ml.interval import interval_group

# A skewed residual distribution like the data's: most patients near the formula, one in ten with a surprise.
RNG = np.random.default_rng(20)
SKEWED = np.r_[RNG.normal(-300, 250, 90), RNG.uniform(5_000, 26_000, 10)]


def test_ten_fair_coins_give_the_binomial_worked_by_hand():
    coin = lattice_from_atoms([0.0, 1.0], points=2)
    total = SumOfDraws(coin, points=64).of(10)
    assert total.origin == 0 and total.step == 1 and len(total.mass) == 11
    assert total.mass == pytest.approx([math.comb(10, k) / 1024 for k in range(11)], abs=1e-15)


def test_a_sum_of_few_draws_matches_the_enumeration_of_every_outcome():
    group_a, group_b = np.array([-120.0, 0.0, 35.5, 7_000.0]), np.array([-50.0, 10.0, 12_345.0])
    exact = {}
    for draws in itertools.product(group_a, group_a, group_a, group_b, group_b):
        exact[sum(draws)] = exact.get(sum(draws), 0) + 1
    outcomes, counts = np.array(sorted(exact)), np.array([exact[v] for v in sorted(exact)], dtype=float)
    cdf = np.cumsum(counts) / counts.sum()
    total = convolve(SumOfDraws(lattice_from_atoms(group_a)).of(3), SumOfDraws(lattice_from_atoms(group_b)).of(2))
    # Away from the outcomes (mass is split only between neighbouring lattice points), the CDFs agree.
    lattice_cdf = total.cdf()
    for low, high, below in zip(outcomes[:-1], outcomes[1:], cdf[:-1]):
        if high - low > 4 * total.step:
            index = int(np.floor(((low + high) / 2 - total.origin) / total.step))
            assert lattice_cdf[index] == pytest.approx(below, abs=1e-9)
    assert total.mean() == pytest.approx(3 * group_a.mean() + 2 * group_b.mean(), rel=1e-12)


@pytest.mark.parametrize("n", [1, 7, 25, 100, 1000])
def test_quantiles_agree_with_brute_force_seeded_monte_carlo(n):
    draws = 200_000 if n <= 100 else 40_000
    rng = np.random.default_rng(n)
    simulated = np.sort(rng.choice(SKEWED, size=(draws, n)).sum(axis=1))
    total = SumOfDraws(lattice_from_atoms(SKEWED)).of(n)
    for p in (0.05, 0.10, 0.25, 0.5, 0.75, 0.90, 0.95):
        # Distribution-free: the exact quantile lies between the order statistics at p -/+ 5 standard errors
        # (widened by the lattice step, by which mass may have moved).
        spread = 5 * math.sqrt(p * (1 - p) / draws)
        low = simulated[max(0, int((p - spread) * draws))]
        high = simulated[min(draws - 1, int((p + spread) * draws))]
        assert low - 2 * total.step <= total.quantile(p) <= high + 2 * total.step, p


def test_the_mean_is_exact_and_the_variance_within_a_lattice_step():
    for n in (3, 250, 100_000):
        total = SumOfDraws(lattice_from_atoms(SKEWED)).of(n)
        assert total.mean() == pytest.approx(n * SKEWED.mean(), rel=1e-9, abs=1e-6)
        assert total.variance() == pytest.approx(n * SKEWED.var(), rel=1e-3)


def test_a_hundred_thousand_draws_are_close_to_the_normal_limit():
    n = 100_000
    total = SumOfDraws(lattice_from_atoms(SKEWED)).of(n)
    limit = stats.norm(n * SKEWED.mean(), math.sqrt(n * SKEWED.var()))
    for p in (0.05, 0.25, 0.5, 0.75, 0.95):
        # Skewness left after 1e5 draws moves quantiles by under 1% of a standard deviation.
        assert total.quantile(p) == pytest.approx(limit.ppf(p), abs=0.01 * limit.std())


def test_sampling_is_seeded_and_follows_the_distribution():
    total = SumOfDraws(lattice_from_atoms(SKEWED)).of(25)
    first = total.sample(np.random.default_rng(7), 10_000)
    assert np.array_equal(first, total.sample(np.random.default_rng(7), 10_000))
    assert not np.array_equal(first, total.sample(np.random.default_rng(8), 10_000))
    assert stats.ks_2samp(first, np.random.default_rng(1).choice(SKEWED, (10_000, 25)).sum(axis=1)).pvalue > 0.001


# ---------------------------------------------------------------------------
# The committed model's distribution


@pytest.fixture(scope="module")
def forecasting_card(loaded_model):
    return loaded_model.card


@pytest.fixture(scope="module")
def data(insurance_csv):
    import pandas as pd

    return pd.read_csv(insurance_csv)[["age", "sex", "bmi", "children", "smoker", "region"]]


def test_the_default_model_has_a_distribution_and_older_cards_are_refused(forecasting_card):
    assert PredictiveDistribution.from_card(forecasting_card).coef.shape == (len(BASIS),)
    old = json.loads(artifacts.card_path_for(artifacts.artifacts_folder() / "huber-blend-v1.pkl").read_text())
    with pytest.raises(NoDistribution, match="huber-blend-v1"):
        PredictiveDistribution.from_card(old)


def test_the_cards_coefficients_answer_as_the_pipeline_does(loaded_model, data):
    coef = np.array(loaded_model.card["distribution"]["coef"])
    for frame in (data, random_inputs(np.random.default_rng(11), 5000)):
        assert np.abs(basis_of(frame) @ coef - loaded_model.pipeline.predict(frame)).max() < 1e-6


def test_basis_sums_are_the_sums_of_the_rows_of_one_cell():
    rows = {"age": [30, 41, 64], "bmi": [31.5, 44.0, 30.01], "children": [0, 3, 5]}
    matrix = basis_rows(sex=["male"] * 3, smoker=["yes"] * 3, region=["southeast"] * 3, **rows)
    sums = basis_sums(count=3, sum_age=135, sum_age_squared=30**2 + 41**2 + 64**2, sum_bmi=105.51, sum_children=8,
                      sex="male", smoker="yes", region="southeast", obese=True)
    assert sums == pytest.approx(matrix.sum(axis=0), rel=1e-12)
    # by hand: count, male, smoker, southeast, obese and smoker_obese are 3; smoker_bmi is the BMI sum
    assert dict(zip(BASIS, sums)) == pytest.approx({
        "count": 3, "age": 135, "age_squared": 6677, "bmi": 105.51, "children": 8, "male": 3, "smoker": 3,
        "northwest": 0, "southeast": 3, "southwest": 0, "obese": 3, "smoker_obese": 3, "smoker_bmi": 105.51,
    })


def test_interval_groups_match_the_intervals(data):
    for row in data.head(200).to_dict("records"):
        assert interval_group_of(row["smoker"], row["bmi"] > 30) == interval_group(row)


def test_a_patients_mean_and_quantiles_come_from_the_groups_residuals(forecasting_card):
    distribution = PredictiveDistribution.from_card(forecasting_card)
    residuals = np.array(forecasting_card["distribution"]["residuals"]["non_smoker_obese"])
    assert distribution.patient_mean(10_000.0, "non_smoker_obese") == pytest.approx(10_000 + residuals.mean())
    # Skewed: the mean is above the served estimate, the median near it.
    assert distribution.patient_mean(10_000.0, "non_smoker_obese") > 10_500
    assert distribution.patient_quantile(10_000.0, "non_smoker_obese", 0.5) == pytest.approx(
        10_000 + np.sort(residuals)[math.ceil(0.5 * len(residuals)) - 1]
    )


def test_a_cohorts_total_agrees_with_brute_force_monte_carlo_model_error_included(forecasting_card, data):
    distribution = PredictiveDistribution.from_card(forecasting_card)
    rows = np.random.default_rng(3).choice(len(data), 100, replace=False)
    sums = basis_of(data.iloc[rows]).sum(axis=0)
    groups = groups_of(data.iloc[rows])
    counts = {group: int((groups == group).sum()) for group in distribution.residuals}
    figures = distribution.summary(sums, counts)
    total = figures.distribution

    draws = 200_000
    rng = np.random.default_rng(4)
    simulated = np.full(draws, float(sums @ distribution.coef))
    for group, n in counts.items():
        simulated += rng.choice(distribution.residuals[group], size=(draws, n)).sum(axis=1)
    simulated += rng.choice(distribution.model_error(sums, counts), size=draws)
    simulated.sort()

    assert figures.expected_total == pytest.approx(simulated.mean(), abs=5 * simulated.std() / math.sqrt(draws))
    for p in (0.05, 0.25, 0.5, 0.75, 0.95):
        spread = 5 * math.sqrt(p * (1 - p) / draws)
        assert simulated[int((p - spread) * draws)] - 2 * total.step <= total.quantile(p)
        assert total.quantile(p) <= simulated[int((p + spread) * draws)] + 2 * total.step
    assert figures.ranges["90"] == [total.quantile(0.05), total.quantile(0.95)]


def test_the_naive_interval_sum_adds_every_patients_interval(forecasting_card, data):
    distribution = PredictiveDistribution.from_card(forecasting_card)
    cohort = data.head(50)
    from predictor.ml.predict import predict_charges_with_interval

    model = artifacts.get_model()
    intervals = predict_charges_with_interval(cohort.to_dict("records"), model)
    groups = groups_of(cohort)
    low, high = distribution.naive_interval_sum(basis_of(cohort).sum(axis=0), {g: int((groups == g).sum()) for g in distribution.residuals})
    # No patient of the data file is near the $0 floor, so the sums agree to float precision.
    assert low == pytest.approx(sum(row[1] for row in intervals), abs=1e-6)
    assert high == pytest.approx(sum(row[2] for row in intervals), abs=1e-6)
