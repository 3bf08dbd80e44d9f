"""Fairness in the staff console: the live figures over recorded actual charges (predictor/monitoring/fairness.py),
the Fairness section of a model's page (from its card) and of the monitoring page (live), and the chart."""

import re
from decimal import Decimal
from http import HTTPStatus

import pytest
from django.urls import reverse

from predictor.ml.fairness import MIN_ROWS
from predictor.monitoring import charts
from predictor.monitoring.fairness import FairnessUnavailable, fairness_live, model_version_named
from tests.factories import ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db

MONITORING = reverse("admin:predictor_prediction_monitoring")


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def with_actuals(count: int, **fields):
    """Predictions of $1,000 (interval $500 to $2,000) whose actual charges were $1,100."""
    return PredictionFactory.create_batch(
        count, predicted_charges=Decimal("1000.00"), predicted_charges_low=Decimal("500.00"),
        predicted_charges_high=Decimal("2000.00"), actual_charges=Decimal("1100.00"), **fields,
    )


def test_the_live_figures_are_of_the_chosen_version_only():
    mine, other = ModelVersionFactory(name="mine"), ModelVersionFactory(name="other")
    with_actuals(40, model_version=mine)
    PredictionFactory.create_batch(5, model_version=mine)  # no actual charges: not counted
    with_actuals(7, model_version=other)
    report = fairness_live(model_version=mine, since=None, until=None)
    assert report["model"] == "mine" and report["rows"] == {"kind": "recorded actual charges", "count": 40, "since": None, "until": None}
    sexes = [row for row in report["groups"] if row["dimension"] == "sex"]
    assert sum(row["n"] for row in sexes) == 40
    for row in report["groups"]:
        assert row["mae"]["value"] == 100.0 and row["bias"]["value"] == 100.0  # actual − predicted
        assert row["calibration"]["value"] == pytest.approx(1000 / 1100, abs=5e-5)
        assert row["coverage"]["value"] == 1.0
        assert (row["mae"]["low"] is None) == (row["n"] < MIN_ROWS)
    assert fairness_live(model_version=None, since=None, until=None)["rows"]["count"] == 47


def test_an_unknown_version_and_no_actuals_are_clear_messages():
    ModelVersionFactory(name="known")
    with pytest.raises(FairnessUnavailable, match=r"There is no model version 'nope' \(known: .*known\)"):
        model_version_named("nope")
    with pytest.raises(FairnessUnavailable, match="No recorded actual charges for every model version"):
        fairness_live(model_version=None, since=None, until=None)


def test_the_model_page_shows_the_cards_fairness_with_its_chart(admin_client, active_model_version, loaded_model):
    response = admin_client.get(reverse("admin:predictor_modelversion_report", args=[active_model_version.pk]))
    assert response.status_code == HTTPStatus.OK
    html = text(response)
    fairness = loaded_model.card["fairness"]
    section = html.split('id="fairness"')[1].split("<h3>Holdout")[0]
    assert "associations in past data" in section and "not causes" in section
    assert 'class="chart chart-fairness"' in section
    # One dot per group, with a bar for each group that has an interval.
    assert section.count('class="dot"') + section.count('class="dot few"') == 2 * len(fairness["groups"])
    assert section.count('class="whisker"') == 2 * sum(row["mae"]["low"] is not None for row in fairness["groups"])
    female = next(row for row in fairness["groups"] if row["group"] == "female")
    assert f"sex: female</td><td>{female['n']} ({female['patients']} patients)" in section
    assert f"${female['mae']['value']:,.2f}" in section
    for name in ("unaware", "discrimination_free", "rating_factors"):
        assert f"<td>{name}</td>" in section
    assert f"AUC {fairness['leakage']['auc']}" in section


def test_a_model_without_fairness_says_how_to_add_it(admin_client):
    version = ModelVersionFactory(name="old-model")
    html = text(admin_client.get(reverse("admin:predictor_modelversion_report", args=[version.pk])))
    assert "has no fairness figures: <code>manage.py train_model --name old-model --fairness-only</code>" in html


def test_the_monitoring_page_shows_the_live_figures_on_request_and_says_when_there_are_none(admin_client):
    empty = text(admin_client.get(MONITORING, {"fairness": "1"}))
    assert 'id="fairness-unavailable">No recorded actual charges' in empty
    version = ModelVersionFactory(name="live")
    with_actuals(60, model_version=version)
    # Without asking, the page links to them (keeping its filters) and reads no rows for them.
    plain = admin_client.get(MONITORING, {"model": "live", "since": "2020-01-01"})
    assert 'href="?since=2020-01-01&amp;model=live&amp;fairness=1#fairness"' in plain.content.decode()
    assert "fairness" not in plain.context or plain.context.get("fairness") is None
    response = admin_client.get(MONITORING, {"model": "live", "fairness": "1"})
    assert response.status_code == HTTPStatus.OK
    html = text(response)
    section = html.split('id="fairness"')[1].split('id="drift"')[0]
    assert "60 predictions with actual charges by live" in section
    assert 'class="chart chart-fairness"' in section and "not causes" in section
    assert "sex: female" in section


def test_the_chart_draws_nothing_without_groups():
    assert charts.fairness_svg([]) is None


def test_large_live_groups_get_normal_intervals_that_match_the_bootstrap():
    """Over BOOTSTRAP_MAX_ROWS rows the intervals are value ± z · standard error; on the same rows the bootstrap agrees."""
    import numpy as np

    from predictor.ml.fairness import group_figures

    rng = np.random.default_rng(11)
    n = 4000
    estimate = rng.gamma(2.0, 6000.0, n)
    actual = estimate * rng.lognormal(0, 0.3, n)
    groups = {"sex": rng.choice(["female", "male"], n)}
    kwargs = {"actual": actual, "estimate": estimate, "low": estimate - 2000, "high": estimate + 4000, "groups": groups}
    normal = group_figures(**kwargs, max_bootstrap_rows=100)
    bootstrap = group_figures(**kwargs)
    assert normal["bootstrap"]["method"].startswith("normal") and bootstrap["bootstrap"]["method"].startswith("stratified")
    for approximate, resampled in zip(normal["groups"], bootstrap["groups"]):
        for metric in ("mae", "bias", "calibration", "coverage"):
            width = resampled[metric]["high"] - resampled[metric]["low"]
            assert approximate[metric]["value"] == resampled[metric]["value"]
            assert approximate[metric]["low"] == pytest.approx(resampled[metric]["low"], abs=0.1 * width), metric
            assert approximate[metric]["high"] == pytest.approx(resampled[metric]["high"], abs=0.1 * width), metric
    for approximate, resampled in zip(normal["gaps"], bootstrap["gaps"]):
        width = resampled["high"] - resampled["low"]
        assert approximate["low"] == pytest.approx(resampled["low"], abs=0.1 * width)
