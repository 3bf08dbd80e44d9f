"""The issue's "done when": on a fresh database, the data file's 1,338 patients predicted through the API, their
charges recorded with record_actuals, a challenger set with challenger_set and scored with challenger_score, and
compare_models --json gives the figures scipy, statsmodels and scikit-learn give on the same rows (to the cent for
dollars, 1e-6 for ratios and p values), and the verdict the written rule gives on them.

Two challengers: the committed huber-blend-v2-unaware (the default's method without sex, with its interval), and
tutorial-lr-v1 (plain least squares, no interval; it may be a challenger, only the champion must never answer
below $0). huber-blend-v1 would be no test: it answers these patients within $0.0001 of the served huber-blend-v2."""

import csv
import json
from io import StringIO

import numpy as np
import pytest
from django.core.management import call_command
from scipy import stats as scipy_stats
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from predictor.forecasts.cohorts import AGE_BANDS
from predictor.ml import compare
from predictor.ml.interval import interval_group
from predictor.models import ChallengerScore, ModelVersion, Prediction
from predictor.retention import band_label
from predictor.security import tokens

pytestmark = pytest.mark.django_db
CENT, SMALL = 0.005 + 1e-9, 1e-6


def age_band(age: int) -> str:
    return next(label for label, _, last in AGE_BANDS if last is None or age <= last)


@pytest.mark.parametrize("challenger_name", ["huber-blend-v2-unaware", "tutorial-lr-v1"])
def test_compare_models_on_the_data_files_patients_equals_scipy_and_statsmodels(
    client, admin_user, insurance_csv, tmp_path, active_model_version, challenger_name, settings
):
    call_command("challenger_set", challenger_name, stdout=StringIO())
    challenger_version = ModelVersion.objects.get(challenger=True)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {tokens.api_token_create(user=admin_user, name='tests')[1]}"}
    with open(insurance_csv, newline="") as handle:
        patients = list(csv.DictReader(handle))
    records = [
        {"age": int(p["age"]), "sex": p["sex"], "bmi": float(p["bmi"]), "children": int(p["children"]), "smoker": p["smoker"],
         "region": p["region"]}
        for p in patients
    ]
    response = client.post("/api/v1/predictions", json.dumps(records), content_type="application/json", **bearer)
    assert response.status_code == 201, response.content
    ids = [row["id"] for row in response.json()["predictions"]]
    billed = tmp_path / "billed.csv"
    billed.write_text("prediction_id,actual_charges\n" + "".join(
        f"{prediction_id},{patient['charges']}\n" for prediction_id, patient in zip(ids, patients)
    ))
    call_command("record_actuals", str(billed), stdout=StringIO())
    call_command("challenger_score", "--no-progress", stdout=StringIO(), stderr=StringIO())
    out, exit_code = StringIO(), 0
    try:
        call_command("compare_models", "--json", stdout=out)
    except SystemExit as exit_status:
        exit_code = exit_status.code
    figures = json.loads(out.getvalue())

    # The oracle's rows, read independently through the ORM.
    rows = list(Prediction.objects.filter(pk__in=ids).order_by("id"))
    scores = {s.prediction_id: s for s in ChallengerScore.objects.filter(model_version=challenger_version)}
    y = np.array([float(p.actual_charges) for p in rows])
    champion = np.array([float(p.predicted_charges) for p in rows])
    champion_low = np.array([float(p.predicted_charges_low) for p in rows])
    champion_high = np.array([float(p.predicted_charges_high) for p in rows])
    challenger = np.array([float(scores[p.pk].charges) for p in rows])
    with_interval = challenger_name != "tutorial-lr-v1"
    assert all((scores[p.pk].charges_low is not None) == with_interval for p in rows)
    challenger_low = np.array([float(scores[p.pk].charges_low) for p in rows]) if with_interval else None
    challenger_high = np.array([float(scores[p.pk].charges_high) for p in rows]) if with_interval else None
    assert figures["n"] == len(rows) == 1338 and figures["rows"]["skipped_not_scored"] == 0

    for name, estimate, low, high in (("champion", champion, champion_low, champion_high), ("challenger", challenger, challenger_low, challenger_high)):
        part = figures[name]
        assert part["mae"] == pytest.approx(mean_absolute_error(y, estimate), abs=CENT)
        assert part["rmse"] == pytest.approx(root_mean_squared_error(y, estimate), abs=CENT)
        bias = scipy_stats.ttest_1samp(y - estimate, 0.0).confidence_interval(0.95)
        assert part["bias"]["mean"] == pytest.approx(np.mean(y - estimate), abs=CENT)
        assert (part["bias"]["low"], part["bias"]["high"]) == pytest.approx((bias.low, bias.high), abs=CENT)
        if low is None:
            assert part["coverage"] is None and part["mean_interval_width"] is None
            continue
        inside = int(((low <= y) & (y <= high)).sum())
        wilson = proportion_confint(inside, len(y), alpha=0.05, method="wilson")
        assert part["coverage"]["rate"] == pytest.approx(inside / len(y), abs=SMALL)
        assert (part["coverage"]["low"], part["coverage"]["high"]) == pytest.approx(wilson, abs=SMALL)
        assert part["mean_interval_width"] == pytest.approx(np.mean(high - low), abs=CENT)
    assert figures["champion"]["name"] == "huber-blend-v2" and figures["challenger"]["name"] == challenger_name

    challenger_abs, champion_abs = np.abs(y - challenger), np.abs(y - champion)
    paired = scipy_stats.ttest_rel(challenger_abs, champion_abs)
    interval = paired.confidence_interval(0.95)
    assert figures["difference"]["mean"] == pytest.approx(np.mean(challenger_abs - champion_abs), abs=CENT)
    assert (figures["difference"]["low"], figures["difference"]["high"]) == pytest.approx((interval.low, interval.high), abs=CENT)
    assert figures["difference"]["p_value"] == pytest.approx(paired.pvalue, abs=SMALL)

    boot = scipy_stats.bootstrap(
        (challenger_abs, champion_abs), lambda a, b, axis: a.mean(axis=axis) / b.mean(axis=axis), paired=True,
        vectorized=True, n_resamples=figures["mae_ratio"]["resamples"], method="percentile",
        random_state=np.random.default_rng(compare.SEED),
    )
    assert figures["mae_ratio"]["resamples"] == 2000
    assert figures["mae_ratio"]["value"] == pytest.approx(challenger_abs.mean() / champion_abs.mean(), abs=SMALL)
    assert figures["mae_ratio"]["low"] == pytest.approx(boot.confidence_interval.low, abs=SMALL)
    assert figures["mae_ratio"]["high"] == pytest.approx(boot.confidence_interval.high, abs=SMALL)

    labels = {
        "smoker": [p.smoker for p in rows], "region": [p.region for p in rows], "sex": [p.sex for p in rows],
        "age_band": [age_band(p.age) for p in rows], "bmi_band": [band_label("bmi", p.bmi) for p in rows],
        "interval_group": [interval_group({"smoker": p.smoker, "bmi": p.bmi}) for p in rows],
        "month": [f"{p.created_at:%Y-%m}" for p in rows],
    }
    expected = []
    for dimension, values in labels.items():
        values = np.array(values)
        for group in sorted(set(values)):
            chosen = values == group
            if chosen.sum() >= 30:
                expected.append((dimension, group, int(chosen.sum()), scipy_stats.ttest_rel(challenger_abs[chosen], champion_abs[chosen])))
    shown = figures["segments"]
    assert sorted((part["dimension"], part["group"], part["n"]) for part in shown) == sorted(item[:3] for item in expected)
    by_key = {(part["dimension"], part["group"]): part for part in shown}
    _, adjusted, _, _ = multipletests([test.pvalue for *_, test in expected], method="holm")
    ranks = scipy_stats.rankdata([test.pvalue for *_, test in expected], method="ordinal")
    for (dimension, group, _, test), p_adjusted, rank in zip(expected, adjusted, ranks):
        part = by_key[(dimension, group)]["difference"]
        level_interval = test.confidence_interval(1 - 0.05 / (len(expected) - rank + 1))
        assert part["p_value"] == pytest.approx(p_adjusted, abs=SMALL)
        assert (part["low"], part["high"]) == pytest.approx((level_interval.low, level_interval.high), abs=CENT)
    # The verdict by the written rule, on the oracle's figures (docs/model-changes.md, "The rule").
    margin = settings.PREDICTOR_CHALLENGER_MARGIN
    harmful = any(
        test.confidence_interval(1 - 0.05 / (len(expected) - rank + 1)).low > margin
        for (*_, test), rank in zip(expected, ranks)
    )
    covered = with_interval and 0.87 <= ((challenger_low <= y) & (y <= challenger_high)).mean() <= 0.93
    if interval.high < margin and not harmful and covered:
        verdict = "better" if interval.high < 0 else "not_worse"
    else:
        verdict = "worse"
    assert figures["verdict"] == verdict and exit_code == {"better": 0, "not_worse": 0, "worse": 1}[verdict]
    if challenger_name == "tutorial-lr-v1":  # plain least squares errs about $1,100 more a patient than the blend
        assert verdict == "worse"
