"""monitoring: the report's figures, aggregated in PostgreSQL, against independent computations on the same rows.

Accuracy against scikit-learn's metrics, the intervals against scipy (``ttest_1samp`` and
``binomtest``), the drift bins against a fixture worked by hand, all on rows stored in
PostgreSQL and read back by the report's SQL. Money within half a cent, shares within 1e-9.

The end-to-end test stores the 402 patients of the data file that the default model's card holds
out (scikit-learn's 30% split with PyCaret's seed, 123: the same rows, checked against the
card's points), predicted by the served model, with their real charges as actual charges; the
page and ``monitor_report --json`` must show the MAE, bias and coverage scikit-learn and scipy
compute on the same rows.
"""

import json
import math
from datetime import date, datetime
from datetime import timezone as dt_timezone
from decimal import Decimal
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from scipy.stats import binomtest, ttest_1samp
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split

from predictor import monitoring, services
from predictor.actuals import selectors as actuals_selectors
from predictor.actuals.services import actual_charges_record_many
from predictor.ml import drift as drift_stats
from predictor.ml import stats
from predictor.models import ModelVersion, Prediction
from predictor.monitoring import queries as monitoring_queries
from tests.factories import ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db

MONEY = 0.005
SHARE = 1e-9


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=dt_timezone.utc)


def expected_figures(rows: list[Prediction]) -> dict:
    """The figures of stored rows, computed without the code under test."""
    actual = np.array([float(row.actual_charges) for row in rows])
    predicted = np.array([float(row.predicted_charges) for row in rows])
    errors = actual - predicted
    figures = {
        "n": len(rows),
        "mae": mean_absolute_error(actual, predicted),
        "rmse": math.sqrt(mean_squared_error(actual, predicted)),
        "r2": r2_score(actual, predicted) if len(rows) > 1 else None,
        "bias": errors.mean(),
    }
    if len(rows) > 1:
        interval = ttest_1samp(errors, 0).confidence_interval(0.95)
        figures["bias_low"], figures["bias_high"] = interval.low, interval.high
    with_interval = [row for row in rows if row.predicted_charges_low is not None]
    if with_interval:
        inside = sum(row.predicted_charges_low <= row.actual_charges <= row.predicted_charges_high for row in with_interval)
        wilson = binomtest(inside, len(with_interval)).proportion_ci(0.95, method="wilson")
        figures["coverage"] = (inside / len(with_interval), wilson.low, wilson.high, len(with_interval))
    return figures


def assert_figures(accuracy: stats.Accuracy, rows: list[Prediction]) -> None:
    want = expected_figures(rows)
    assert accuracy.n == want["n"]
    assert accuracy.mae == pytest.approx(want["mae"], abs=MONEY)
    assert accuracy.rmse == pytest.approx(want["rmse"], abs=MONEY)
    assert accuracy.bias.value == pytest.approx(want["bias"], abs=MONEY)
    if want["r2"] is not None:
        assert accuracy.r2 == pytest.approx(want["r2"], abs=1e-9)
        assert (accuracy.bias.low, accuracy.bias.high) == pytest.approx((want["bias_low"], want["bias_high"]), abs=MONEY)
    if "coverage" in want:
        rate, low, high, n = want["coverage"]
        assert (accuracy.coverage.value, accuracy.coverage.low, accuracy.coverage.high) == pytest.approx((rate, low, high), abs=SHARE)
        assert accuracy.interval_n == n
    else:
        assert accuracy.coverage is None


@pytest.fixture
def history():
    """80 predictions over two months, two model versions, four regions, the four interval groups;
    60 of them with actual charges, some without an interval."""
    rng = np.random.default_rng(11)
    first, second = ModelVersionFactory(name="model-a"), ModelVersionFactory(name="model-b")
    rows = []
    for index in range(80):
        predicted = Decimal(f"{rng.uniform(2000, 40000):.2f}")
        has_interval = index % 7 != 0
        actual = Decimal(f"{float(predicted) * rng.uniform(0.7, 1.4):.2f}") if index < 60 else None
        rows.append(
            PredictionFactory(
                predicted_charges=predicted,
                predicted_charges_low=predicted - 1500 if has_interval else None,
                predicted_charges_high=predicted + 4000 if has_interval else None,
                actual_charges=actual,
                region=Prediction.Region.values[index % 4],
                smoker="yes" if index % 3 == 0 else "no",
                bmi=[24.0, 30.0, 30.01, 41.5][index % 4 if index % 5 else 1],
                model_version=first if index % 2 else second,
                created_at=utc(2026, 1 + index % 2, 1 + index % 28, 12),
            )
        )
    return rows


def test_every_slice_is_scikit_learns_and_scipys_figures_on_its_rows(history):
    report = monitoring.monitoring_report()
    with_actuals = [row for row in history if row.actual_charges is not None]
    assert report.predictions == 80
    assert_figures(report.overall.accuracy, with_actuals)

    months = {part.key: part for part in report.by_month}
    assert list(months) == ["2026-01", "2026-02"]
    for key, part in months.items():
        assert_figures(part.accuracy, [row for row in with_actuals if f"{row.created_at:%Y-%m}" == key])

    groups = {part.key: part for part in report.by_group}
    assert set(groups) == {"smoker_obese", "smoker_not_obese", "non_smoker_obese", "non_smoker_not_obese"}
    for key, part in groups.items():
        # BMI 30.0 is not obese, 30.01 is: the interval's own rule.
        members = [row for row in with_actuals if key == f"{'smoker' if row.smoker == 'yes' else 'non_smoker'}_{'obese' if row.bmi > 30 else 'not_obese'}"]
        assert_figures(part.accuracy, members)

    regions = {part.key: part for part in report.by_region}
    assert list(regions) == ["northeast", "northwest", "southeast", "southwest"]
    for key, part in regions.items():
        assert_figures(part.accuracy, [row for row in with_actuals if row.region == key])

    versions = {part.key: part for part in report.by_version}
    assert list(versions) == ["model-a", "model-b"]
    for key, part in versions.items():
        assert_figures(part.accuracy, [row for row in with_actuals if row.model_version.name == key])
        assert part.holdout.version == key and part.holdout.mae == 2800.0  # the factory's card


def test_the_period_takes_whole_utc_days_and_the_model_narrows_it(history):
    other = ModelVersionFactory(name="model-c")
    edge = [
        PredictionFactory(created_at=utc(2026, 2, 28, 23, 59, 59), actual_charges=Decimal("100"), model_version=other),
        PredictionFactory(created_at=utc(2026, 3, 1), actual_charges=Decimal("200"), model_version=other),
        PredictionFactory(created_at=utc(2026, 2, 27, 23, 59, 59), actual_charges=Decimal("300"), model_version=other),
    ]
    report = monitoring.monitoring_report(since=date(2026, 2, 28), until=date(2026, 2, 28), model_version=other)
    assert report.predictions == 1 and report.overall.accuracy.n == 1
    assert report.model == "model-c"
    assert_figures(report.overall.accuracy, [edge[0]])
    february = monitoring.monitoring_report(since=date(2026, 2, 1), until=date(2026, 2, 28))
    in_february = [row for row in [*history, *edge] if row.created_at.month == 2 and row.actual_charges is not None]
    assert_figures(february.overall.accuracy, in_february)
    assert [part.key for part in february.by_month] == ["2026-02"]


def test_the_first_and_last_representable_days_are_a_period_too(history):
    report = monitoring.monitoring_report(since=date.min, until=date.max)
    assert report.predictions == 80 and report.overall.accuracy.n == 60


def test_no_actual_charges_yet_gives_no_figures_but_counts_the_predictions():
    PredictionFactory.create_batch(3)
    report = monitoring.monitoring_report()
    assert report.overall is None and report.by_month == [] and report.alerts == []
    assert report.predictions == 3
    data = report.as_json()
    assert (data["count"], data["mae"], data["bias"], data["coverage"]) == (0, None, None, None)


# ---------------------------------------------------------------------------
# Alerts


def missed(count: int, **fields) -> list[Prediction]:
    """Non-smokers with a BMI of 25 whose actual charges fall $100 and more above their interval."""
    version = fields.pop("model_version", None) or ModelVersionFactory()
    return [
        PredictionFactory(
            predicted_charges=Decimal("10000"), predicted_charges_low=Decimal("9000"), predicted_charges_high=Decimal("12000"),
            actual_charges=Decimal("12100") + index, model_version=version, smoker="no", bmi=25.0, **fields,
        )
        for index in range(count)
    ]


def test_29_actual_charges_raise_no_alert_30_do():
    version = ModelVersionFactory(name="model-a")
    missed(29, region="southeast", model_version=version)
    assert monitoring.monitoring_report().alerts == []
    missed(1, region="southeast", model_version=version)
    alerts = monitoring.monitoring_report().alerts
    # 0 of 30 inside (Wilson upper bound 11.4%), and a mean bias of $2,114.50 (95% CI about $2,111 to $2,118),
    # more than 10% of the $12,114.50 mean charges from 0: both alerts in every slice, each of the 30 rows.
    month = f"month {datetime.now(dt_timezone.utc):%Y-%m}"
    slices = ["all predictions", month, "non-smokers with a BMI of 30 or less", "region southeast", "model model-a"]
    assert sorted(alert.split(": ")[:2] for alert in alerts) == sorted([kind, label] for kind in ("coverage", "bias") for label in slices)
    assert "coverage: region southeast: the 90% interval held for 0.0% of 30 predictions (95% CI 0.0% to 11.4%)" in "\n".join(alerts)
    assert "bias: all predictions: actual − predicted is $2,114 on average over 30 predictions" in "\n".join(alerts)


def test_alerts_follow_the_thresholds_in_each_slice():
    # 40 rows where 32 of 40 fall inside (80%): Wilson upper bound 89.5%, above 87%: no coverage alert.
    version = ModelVersionFactory()
    for index in range(40):
        PredictionFactory(
            predicted_charges=Decimal("10000"), predicted_charges_low=Decimal("9000"), predicted_charges_high=Decimal("12000"),
            actual_charges=Decimal("10000") if index < 32 else Decimal("12500"), model_version=version, region="northwest",
        )
    assert binomtest(32, 40).proportion_ci(method="wilson").high > 0.87
    report = monitoring.monitoring_report()
    assert not any(alert.startswith("coverage") for alert in report.alerts)
    # The mean bias is $500 (95% CI about $160 to $840): it excludes 0, but not by 10% of ~$10,500.
    assert not any(alert.startswith("bias") for alert in report.alerts)
    # 26 more misses: 32 of 66 inside, upper bound 60%: alerts on coverage, overall and for the region.
    missed(26, region="northwest", model_version=version)
    report = monitoring.monitoring_report()
    coverage = [alert for alert in report.alerts if alert.startswith("coverage")]
    assert {alert.split(": ")[1] for alert in coverage} >= {"all predictions", "region northwest"}
    assert report.overall.alert_kinds[0] == "coverage"


# ---------------------------------------------------------------------------
# Drift, through the database


# The hand-worked fixture of tests/ml/test_stats.py: training ages 20,20,30,...,60,60 (edges 30, 40, 50, 60,
# two rows a bin), a window 25,30,35,40,45,45,55,60,65,65 whose PSI is 0.2·ln 3; smoker 2 of 10 in training.
HAND_REFERENCE = {
    "rows": 10,
    "inputs": {
        "age": {"kind": "numeric", "edges": [30.0, 40.0, 50.0, 60.0], "counts": [2, 2, 2, 2, 2]},
        "smoker": {"kind": "categorical", "categories": ["no", "yes"], "counts": [8, 2]},
    },
    "fingerprints": {"values": []},
}
WINDOW_AGES = [25, 30, 35, 40, 45, 45, 55, 60, 65, 65]


def test_postgresql_bins_the_window_as_the_hand_worked_fixture():
    version = ModelVersionFactory(
        card={"drift_reference": HAND_REFERENCE, "training_ranges": {"age": [20, 60], "bmi": [10, 70], "children": [0, 10]}}
    )
    for index, age in enumerate(WINDOW_AGES):
        PredictionFactory(age=age, smoker="yes" if index < 4 else "no", model_version=version, bmi=25.0, children=0)
    report = monitoring.monitoring_report(model_version=version)
    drift = {item.name: item for item in report.drift.inputs}
    assert drift["age"].psi == pytest.approx(0.2 * math.log(3), rel=1e-9)
    assert [share for _, _, share in drift["age"].bins] == pytest.approx([0.1, 0.2, 0.3, 0.1, 0.3])
    # smoker: 4 of 10 against 2 of 10: 0.2·ln(4/3) + 0.2·ln 2
    assert drift["smoker"].psi == pytest.approx(0.2 * math.log(4 / 3) + 0.2 * math.log(2), rel=1e-9)
    assert drift["age"].threshold == drift_stats.psi_threshold([2, 2, 2, 2, 2], 10, name="age")
    # Ages 65 and 65 are above the training range [20, 60]: 2 of 10.
    assert report.drift.out_of_range == {"age": 0.2, "bmi": 0.0, "children": 0.0, "any": 0.2}
    assert report.drift.reference == version.name


def test_a_card_without_a_reference_says_so(loaded_model):
    bare = monitoring.monitoring_report(model_version=PredictionFactory().model_version)
    assert bare.drift.inputs == [] and "holds no drift reference" in bare.drift.missing
    assert "add_drift_reference" in bare.drift.missing


def test_a_version_registered_before_cards_had_a_reference_reads_it_from_its_card_file(loaded_model):
    """The row keeps the card as registered; the committed card file, for the same artifact hash, has the reference."""
    card = {key: value for key, value in loaded_model.card.items() if key != "drift_reference"}
    old = ModelVersion(name=loaded_model.name, sha256=loaded_model.sha256, card=card)
    reference, missing = monitoring.drift_reference_for(old)
    assert missing is None and reference == loaded_model.card["drift_reference"]
    # Another artifact under that name (a different hash): its card file is not this row's card.
    assert monitoring.drift_reference_for(ModelVersion(name=loaded_model.name, sha256="0" * 64, card=card))[0] is None


@pytest.fixture(scope="module")
def data_file(insurance_csv):
    return pd.read_csv(insurance_csv)


def store_patients(frame: pd.DataFrame) -> list[Prediction]:
    rows = frame[["age", "sex", "bmi", "children", "smoker", "region"]].to_dict("records")
    return services.prediction_create_many(rows=rows, source=Prediction.Source.BATCH)


def test_a_window_of_training_rows_raises_no_flag_and_forty_percent_smokers_flag_smoker(data_file):
    rng = np.random.default_rng(3)
    store_patients(data_file.iloc[rng.choice(len(data_file), 200, replace=False)])
    quiet = monitoring.monitoring_report()
    assert quiet.drift.n == 200 and len(quiet.drift.inputs) == 6
    assert quiet.flags == []
    Prediction.objects.all().delete()

    smokers = data_file[data_file.smoker == "yes"].sample(80, random_state=1)
    others = data_file[data_file.smoker == "no"].sample(120, random_state=1)
    store_patients(pd.concat([smokers, others]).sample(frac=1, random_state=2))
    report = monitoring.monitoring_report()
    drift = {item.name: item for item in report.drift.inputs}
    assert drift["smoker"].status == "drift" and drift["smoker"].flagged
    assert [flag.split(":")[1].strip() for flag in report.flags] == ["smoker"]
    assert report.raised


# ---------------------------------------------------------------------------
# End to end: the data file's held-out patients with their real charges


@pytest.fixture
def holdout_patients(data_file, loaded_model):
    """The 402 patients of the card's holdout, stored as predictions of the served model with their real charges."""
    _, holdout = train_test_split(data_file, test_size=0.3, random_state=123)
    # The same rows, in the same order (the card rounds them to about the cent).
    assert holdout.charges.tolist() == pytest.approx(loaded_model.card["holdout_plot"]["actual"], abs=0.01)
    predictions = store_patients(holdout)
    actual_charges_record_many(
        rows=[(p.pk, charge) for p, charge in zip(predictions, holdout.charges)], recorded_by=None, channel="command"
    )
    return holdout, Prediction.objects.filter(pk__in=[p.pk for p in predictions]).order_by("pk")


def scikit_learn_figures(holdout: pd.DataFrame, stored: list[Prediction]) -> dict:
    actual = holdout.charges.to_numpy()  # the data file's charges, to the tenth of a cent
    predicted = np.array([float(p.predicted_charges) for p in stored])
    low = np.array([float(p.predicted_charges_low) for p in stored])
    high = np.array([float(p.predicted_charges_high) for p in stored])
    inside = int(((actual >= low) & (actual <= high)).sum())
    bias = ttest_1samp(actual - predicted, 0).confidence_interval(0.95)
    wilson = binomtest(inside, len(actual)).proportion_ci(0.95, method="wilson")
    return {
        "mae": mean_absolute_error(actual, predicted),
        "rmse": math.sqrt(mean_squared_error(actual, predicted)),
        "r2": r2_score(actual, predicted),
        "bias": ((actual - predicted).mean(), bias.low, bias.high),
        "coverage": (inside / len(actual), wilson.low, wilson.high),
    }


def test_the_report_and_the_page_show_scikit_learns_figures_on_the_held_out_patients(holdout_patients, admin_client, loaded_model):
    holdout, stored = holdout_patients
    stored = list(stored)
    want = scikit_learn_figures(holdout, stored)
    # The actual charges are stored to the cent; the data file has tenths of a cent: a mean moves by under half a cent.
    assert want["mae"] == pytest.approx(1520.10, abs=0.01)  # in-sample: the artifact was refit on these rows too

    out = StringIO()
    call_command("monitor_report", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["count"] == 402 and data["predictions"] == 402
    assert data["mae"] == pytest.approx(want["mae"], abs=0.01)
    assert data["rmse"] == pytest.approx(want["rmse"], abs=0.01)
    assert data["r2"] == pytest.approx(want["r2"], abs=1e-4)
    assert (data["bias"]["mean"], data["bias"]["low"], data["bias"]["high"]) == pytest.approx(want["bias"], abs=0.01)
    assert (data["coverage"]["rate"], data["coverage"]["low"], data["coverage"]["high"]) == pytest.approx(want["coverage"], abs=1e-4)
    assert data["alerts"] == [] and data["in_sample"] == {"count": 402, "of": 402, "versions": [loaded_model.name]}
    assert {name: item["status"] for name, item in data["drift"].items()} == dict.fromkeys(drift_stats.DRIFT_INPUTS, "ok")

    html = admin_client.get("/admin/predictor/prediction/monitoring/").content.decode()
    mae, rmse = f"${want['mae']:,.2f}", f"${want['rmse']:,.2f}"
    bias, bias_low, bias_high = (f"${value:,.0f}" for value in want["bias"])
    coverage = [f"{value * 100:.1f}%" for value in want["coverage"]]
    overall = html[html.index('id="monitoring-overall"') :]
    overall = overall[: overall.index("</table>")]
    assert mae in overall and rmse in overall
    assert f"{bias} <span class=\"ci\">({bias_low} to {bias_high})</span>" in overall
    assert f"{coverage[0]} <span class=\"ci\">({coverage[1]} to {coverage[2]}, n 402)</span>" in overall
    assert "402 of the 402 actual charges" in html and "in-sample" in html
    assert 'id="monitoring-scatter"' in html and 'id="monitoring-monthly"' in html and 'id="monitoring-volume"' in html


def test_the_chart_shows_the_latest_points_first(history, monkeypatch):
    monkeypatch.setattr(monitoring_queries, "CHART_POINTS", 5)
    report = monitoring.monitoring_report()
    latest = sorted((row for row in history if row.actual_charges is not None), key=lambda row: (row.created_at, row.pk))[-5:][::-1]
    assert report.points == [
        (float(row.predicted_charges), float(row.actual_charges),
         None if row.predicted_charges_low is None else float(row.predicted_charges_low),
         None if row.predicted_charges_high is None else float(row.predicted_charges_high))
        for row in latest
    ]


def test_the_daily_volume_counts_every_prediction_by_source():
    for source, count in (("web", 3), ("api", 2)):
        PredictionFactory.create_batch(count, source=source, created_at=utc(2026, 5, 4, 23, 30))
    PredictionFactory(source="batch", created_at=utc(2026, 5, 5, 0, 30))
    report = monitoring.monitoring_report()
    assert report.volume == [(date(2026, 5, 4), "api", 2), (date(2026, 5, 4), "web", 3), (date(2026, 5, 5), "batch", 1)]
    assert monitoring.monitoring_report(detail=False).volume == []


def test_monitoring_needs_postgresql(monkeypatch):
    from django.db import connection

    monkeypatch.setattr(connection, "vendor", "sqlite")
    with pytest.raises(monitoring.MonitoringUnavailable, match="PostgreSQL"):
        monitoring.monitoring_report()


def test_training_rows_are_the_predictions_with_actual_charges_oldest_first():
    newer = PredictionFactory(created_at=utc(2026, 3, 2), actual_charges=Decimal("2.50"), age=30, bmi=22.5)
    older = PredictionFactory(created_at=utc(2026, 3, 1), actual_charges=Decimal("1.25"), age=40, bmi=31.0)
    PredictionFactory(created_at=utc(2026, 3, 3))
    assert list(actuals_selectors.training_rows()) == [
        (40, older.sex, 31.0, older.children, older.smoker, older.region, Decimal("1.25")),
        (30, newer.sex, 22.5, newer.children, newer.smoker, newer.region, Decimal("2.50")),
    ]
