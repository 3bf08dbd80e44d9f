"""manage.py fairness_report: the figures by group over recorded actual charges, against fairlearn's MetricFrame,
its JSON keys, the access log entry it writes, and clear messages for an unknown model or an empty period."""

import json
from datetime import date, timedelta
from io import StringIO

import numpy as np
import pandas as pd
import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from fairlearn.metrics import MetricFrame
from sklearn.metrics import mean_absolute_error

from predictor import services
from predictor.actuals.services import actual_charges_record_many
from predictor.ml.fairness import group_labels
from predictor.models import AccessLogEntry, Prediction

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command("fairness_report", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def recorded(insurance_csv, active_model_version):
    """The data file's 1,338 patients, predicted by the served model, with their real charges recorded as actuals."""
    data = pd.read_csv(insurance_csv)
    rows = data[["age", "sex", "bmi", "children", "smoker", "region"]].to_dict("records")
    predictions = services.prediction_create_many(rows=rows, source=Prediction.Source.BATCH)
    actual_charges_record_many(
        rows=[(p.pk, charge) for p, charge in zip(predictions, data.charges)], recorded_by=None, channel="command"
    )
    return active_model_version


def test_the_json_agrees_with_metricframe_to_the_cent_over_the_data_files_patients(recorded):
    report = json.loads(run("--json", "--model", recorded.name))
    assert set(report) >= {"model", "rows", "groups"}
    assert report["model"] == recorded.name
    assert report["rows"]["kind"] == "recorded actual charges" and report["rows"]["count"] == 1338
    stored = pd.DataFrame.from_records(Prediction.objects.values(
        "age", "sex", "smoker", "region", "predicted_charges", "predicted_charges_low", "predicted_charges_high", "actual_charges"
    )).astype({name: float for name in ("predicted_charges", "predicted_charges_low", "predicted_charges_high", "actual_charges")})
    actual, predicted = stored["actual_charges"], stored["predicted_charges"]
    inside = ((actual >= stored["predicted_charges_low"]) & (actual <= stored["predicted_charges_high"])).astype(float)
    by_key = {(row["dimension"], row["group"]): row for row in report["groups"]}
    for dimension, labels in group_labels(stored).items():
        sensitive = pd.Series(labels, name=dimension)
        frame = MetricFrame(
            metrics={
                "mae": mean_absolute_error,
                "bias": lambda y, p: float(np.mean(y - p)),
                "calibration": lambda y, p: float(np.sum(p) / np.sum(y)),
                "n": lambda y, p: len(y),
            },
            y_true=actual, y_pred=predicted, sensitive_features=sensitive,
        )
        coverage = MetricFrame(metrics=lambda y, p: float(np.mean(y)), y_true=inside, y_pred=inside, sensitive_features=sensitive)
        for group, want in frame.by_group.iterrows():
            row = by_key[(dimension, group)]
            assert set(row) >= {"dimension", "group", "n", "mae", "bias", "calibration", "coverage"}
            assert row["n"] == want["n"]
            assert abs(row["mae"]["value"] - want["mae"]) < 0.005, (dimension, group)
            assert abs(row["bias"]["value"] - want["bias"]) < 0.005, (dimension, group)
            assert row["calibration"]["value"] == pytest.approx(want["calibration"], abs=5e-5)
            assert row["coverage"]["value"] == pytest.approx(coverage.by_group.loc[group], abs=5e-5)
            for name in ("mae", "bias", "calibration", "coverage"):
                assert set(row[name]) == {"value", "low", "high"}
                assert row[name]["low"] <= row[name]["value"] <= row[name]["high"]
    assert len(by_key) == 2 + 4 + 4 + 2 + 4  # no patient of 65 or over in the data file
    entry = AccessLogEntry.objects.get()
    assert (entry.action, entry.command, entry.row_count) == ("fairness", "fairness_report", 1338)
    assert entry.filters["model"] == recorded.name


def test_the_text_report_lists_the_groups_and_says_what_the_figures_are_not(recorded):
    output = run()
    assert "every model version: 1,338 recorded actual charges" in output
    assert "sex: female" in output and "sex_smoker: male smoker" in output
    assert "not causes" in output


def test_a_small_group_shows_its_n_and_no_interval(recorded):
    Prediction.objects.filter(smoker="yes").exclude(pk__in=Prediction.objects.filter(smoker="yes").values("pk")[:10]).delete()
    report = json.loads(run("--json"))
    smokers = next(row for row in report["groups"] if row["dimension"] == "smoker" and row["group"] == "smoker")
    assert smokers["n"] == 10
    assert smokers["mae"]["value"] is not None and smokers["mae"]["low"] is None and smokers["mae"]["high"] is None


def test_an_unknown_model_is_a_clear_message(recorded):
    with pytest.raises(CommandError, match=r"There is no model version 'no-such-model' \(known: .*huber-blend-v2"):
        run("--model", "no-such-model")
    assert not AccessLogEntry.objects.exists()


def test_an_empty_or_backwards_period_is_a_clear_message(recorded):
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    with pytest.raises(CommandError, match="No recorded actual charges for every model version from"):
        run("--since", tomorrow.isoformat())
    with pytest.raises(CommandError, match="comes after its last day"):
        run("--since", "2026-02-01", "--until", "2026-01-01")
    with pytest.raises(CommandError, match="is not a date"):
        run("--since", "yesterday")
    assert not AccessLogEntry.objects.exists()
    assert json.loads(run("--json", "--until", date.max.isoformat()))["rows"]["count"] == 1338
