"""ml.explain: exact Shapley values of the six inputs, checked against independent oracles."""

import itertools
import math
import random

import pytest

from predictor.features import FEATURES
from predictor.ml import explain, predict
from predictor.ml.training import _explain_background, data_read

SEXES, SMOKERS, REGIONS = ("female", "male"), ("yes", "no"), ("southwest", "southeast", "northwest", "northeast")


def random_patient(rng: random.Random) -> dict:
    return {
        "age": rng.randint(18, 100),
        "sex": rng.choice(SEXES),
        "bmi": round(rng.uniform(10, 70), 2),
        "children": rng.randint(0, 10),
        "smoker": rng.choice(SMOKERS),
        "region": rng.choice(REGIONS),
    }


def permutation_shapley(row, background, predict_rows) -> dict[str, float]:
    """The textbook definition: each input's marginal contribution averaged over all 720 orderings."""
    totals = dict.fromkeys(FEATURES, 0.0)
    cache: dict[frozenset, float] = {}

    def value(coalition: frozenset) -> float:
        if coalition not in cache:
            rows = [{name: (row[name] if name in coalition else item[name]) for name in FEATURES} for item in background]
            cache[coalition] = sum(predict_rows(rows)) / len(rows)
        return cache[coalition]

    orderings = list(itertools.permutations(FEATURES))
    for ordering in orderings:
        coalition = frozenset()
        for name in ordering:
            totals[name] += value(coalition | {name}) - value(coalition)
            coalition = coalition | {name}
    return {name: total / len(orderings) for name, total in totals.items()}


def test_an_additive_function_gets_its_own_terms_against_the_background_mean():
    # f = 3·age + 100·[smoker] + 7·bmi: each input's Shapley value is its term minus the term's background mean.
    background = [random_patient(random.Random(seed)) for seed in range(20)]
    patient = random_patient(random.Random(99))

    def additive(frame):
        return 3 * frame["age"] + 100 * (frame["smoker"] == "yes") + 7 * frame["bmi"]

    result = explain.shapley_exact(patient, background, additive)
    mean = lambda values: sum(values) / len(values)  # noqa: E731
    assert result.contributions["age"] == pytest.approx(3 * (patient["age"] - mean([b["age"] for b in background])))
    assert result.contributions["bmi"] == pytest.approx(7 * (patient["bmi"] - mean([b["bmi"] for b in background])))
    smokers = mean([b["smoker"] == "yes" for b in background])
    assert result.contributions["smoker"] == pytest.approx(100 * ((patient["smoker"] == "yes") - smokers))
    for name in ("sex", "children", "region"):
        assert result.contributions[name] == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("seed", [1, 2])
def test_the_exact_values_equal_the_permutation_definition_on_the_real_pipeline(loaded_model, seed):
    patient = random_patient(random.Random(seed))
    background = explain.background_rows(loaded_model.card)[:25]  # 64 coalitions × 25 rows keeps the oracle quick
    want = permutation_shapley(patient, background, lambda rows: predict.predict_charges_pipeline(rows, loaded_model))
    got = explain.shapley_exact(patient, background, loaded_model.pipeline.predict)
    for name in FEATURES:
        assert got.contributions[name] == pytest.approx(want[name], abs=1e-6), name


def test_base_value_plus_contributions_equals_the_served_estimate_to_the_cent(loaded_model):
    rng = random.Random(13)
    for _ in range(25):
        patient = random_patient(rng)
        [served] = predict.predict_charges([patient], loaded_model)  # the one-row fast path, as served
        result = explain.prediction_contributions(patient, loaded_model)
        assert abs(result.total - served) < 0.01, patient


def test_the_base_value_is_the_mean_estimate_of_the_background(loaded_model):
    background = explain.background_rows(loaded_model.card)
    result = explain.prediction_contributions(background[0], loaded_model)
    assert result.base_value == pytest.approx(sum(predict.predict_charges_pipeline(background, loaded_model)) / len(background))
    assert len(background) == 100 and set(background[0]) == set(FEATURES)


def test_the_committed_background_is_the_one_training_draws(loaded_model, insurance_csv):
    assert loaded_model.card["explain_background"] == _explain_background(data_read([insurance_csv]))


def test_a_card_without_a_background_cannot_be_explained():
    with pytest.raises(explain.NoBackgroundError):
        explain.background_rows({"name": "old"})


def test_coalition_weights_sum_to_one_over_all_coalitions_without_the_player():
    weights = explain._coalition_weights(6)
    assert sum(weights[size] * math.comb(5, size) for size in range(6)) == pytest.approx(1)
