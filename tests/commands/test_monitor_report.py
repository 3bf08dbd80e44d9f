"""manage.py monitor_report: the monitoring figures as text or JSON, and an exit status a scheduler can act on.

The figures themselves are pinned against scikit-learn and scipy in tests/monitoring/test_report.py
(including ``--json`` end to end); here: what it prints, the keys, the filters and the exit status.
"""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.models import Prediction
from tests.factories import ModelVersionFactory, PredictionFactory

pytestmark = pytest.mark.django_db


def report(*args) -> tuple[int, str]:
    """(exit status, output) of the command."""
    out = StringIO()
    try:
        call_command("monitor_report", *args, stdout=out)
    except SystemExit as exc:
        return exc.code, out.getvalue()
    return 0, out.getvalue()


@pytest.fixture(scope="module")
def patients(insurance_csv) -> list[dict]:
    """Patients of the data file, so that the inputs do not drift from the training data's."""
    import pandas as pd

    return pd.read_csv(insurance_csv).drop(columns="charges").iloc[:100].to_dict("records")


def calibrated(count: int, version=None, patients=None) -> list[Prediction]:
    """Predictions whose actual charges sit inside their interval, $100 and $102 above the estimate in turn."""
    version = version or ModelVersionFactory()
    return [
        PredictionFactory(
            model_version=version, predicted_charges=Decimal("10000"), predicted_charges_low=Decimal("9000"),
            predicted_charges_high=Decimal("12000"), actual_charges=Decimal("10100") + 2 * (index % 2),
            **(patients[index] if patients else {}),
        )
        for index in range(count)
    ]


def test_json_has_the_figures_alerts_and_drift_the_issue_names(active_model_version, patients):
    calibrated(40, active_model_version, patients)
    status, output = report("--json")
    data = json.loads(output)
    assert status == 0
    assert {"count", "mae", "rmse", "r2", "bias", "coverage", "drift", "alerts"} <= set(data)
    assert data["count"] == 40
    assert set(data["bias"]) >= {"mean", "low", "high"} and set(data["coverage"]) >= {"rate", "low", "high"}
    assert data["bias"]["mean"] == pytest.approx(101.0, abs=0.01) and data["coverage"]["rate"] == 1.0
    assert set(data["drift"]) == {"age", "sex", "bmi", "children", "smoker", "region"}
    for item in data["drift"].values():
        assert set(item) >= {"psi", "threshold", "status"} and item["status"] in {"ok", "watch", "drift"}
    assert isinstance(data["alerts"], list)
    for key in ("by_month", "by_group", "by_region", "by_version"):
        assert data[key], key


def test_text_shows_the_same_figures(active_model_version, patients):
    calibrated(40, active_model_version, patients)
    status, output = report()
    assert status == 0
    overall = next(line for line in output.splitlines() if line.startswith("overall"))
    # n, MAE, RMSE = sqrt((20·100² + 20·102²)/40) = sqrt(10,202) = 101.005
    assert overall.split()[1:4] == ["40", "$101.00", "$101.00"]
    assert "100.0% (91.2% to 100.0%)" in overall  # 40 of 40 inside: Wilson 95% CI
    name = active_model_version.name
    assert f"card holdout: {name}" in output and f"drift against the training data of {name}" in output
    assert output.rstrip().endswith("no alert and no drift flag.")


def test_an_alert_exits_1_after_printing_it():
    version = ModelVersionFactory()
    for _ in range(30):
        PredictionFactory(
            model_version=version, predicted_charges=Decimal("10000"), predicted_charges_low=Decimal("9000"),
            predicted_charges_high=Decimal("12000"), actual_charges=Decimal("20000"),
        )
    status, output = report()
    assert status == 1
    assert "coverage: all predictions: the 90% interval held for 0.0% of 30 predictions" in output
    status, output = report("--json")
    assert status == 1 and json.loads(output)["alerts"]


def test_a_drift_flag_exits_1(active_model_version):
    # 60 smokers aged 64 with BMI 45: every input but sex and region far from the training data.
    PredictionFactory.create_batch(60, model_version=active_model_version, age=64, smoker="yes", bmi=45.0, children=5)
    status, output = report("--json")
    data = json.loads(output)
    assert status == 1
    assert data["alerts"] == [] and data["drift"]["smoker"]["status"] == "drift"
    assert any(flag.startswith("drift: smoker: PSI") for flag in data["drift_flags"])


def test_the_period_and_the_model_narrow_the_report():
    first, second = ModelVersionFactory(name="model-a"), ModelVersionFactory(name="model-b")
    calibrated(3, first)
    calibrated(5, second)
    status, output = report("--json", "--model", "model-b", "--since", "2000-01-01", "--until", "2999-12-31")
    data = json.loads(output)
    assert (data["count"], data["model"], data["period"]) == (5, "model-b", {"since": "2000-01-01", "until": "2999-12-31"})
    assert json.loads(report("--json", "--until", "2000-01-01")[1])["count"] == 0


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--model", "nope"], "There is no model version 'nope'"),
        (["--since", "2026-03-01", "--until", "2026-02-01"], "comes after"),
    ],
)
def test_what_it_cannot_report_is_a_clear_error_with_status_2(arguments, message):
    with pytest.raises(CommandError, match=message) as caught:
        call_command("monitor_report", *arguments)
    assert caught.value.returncode == 2


def test_a_date_that_is_not_a_date_is_refused():
    with pytest.raises(CommandError, match="is not a date"):
        call_command("monitor_report", "--since", "2026-02-30")


def test_the_overrides_are_reported_apart_from_the_models_accuracy(active_model_version, patients, admin_user):
    from predictor.models import Prediction
    from predictor.oversight import services as oversight

    calibrated(40, active_model_version, patients)
    first = Prediction.objects.order_by("id").first()
    oversight.charge_override_record(
        prediction_id=first.pk, reviewed_charges=first.predicted_charges + 500, reason="review", user=admin_user, channel="admin"
    )
    status, output = report("--json")
    data = json.loads(output)

    assert data["count"] == 40 and data["bias"]["mean"] == pytest.approx(101.0, abs=0.01)  # the estimate's, unchanged
    assert {key: data["overrides"][key] for key in ("predictions", "overridden", "overrides")} == {
        "predictions": 40, "overridden": 1, "overrides": 1,
    }
    assert data["overrides"]["reviewed_minus_estimate"] == {"mean": 500.0, "low": None, "high": None}
    # The first row: actual $10,100 against the estimate $10,000 and the reviewed charge $10,500.
    assert data["overrides"]["with_actual_charges"]["estimate"]["bias"] == pytest.approx(100.0)
    assert data["overrides"]["with_actual_charges"]["reviewed"]["bias"] == pytest.approx(-400.0)
    status, text = report()
    assert "1 of 40 predictions have a reviewed charge (1 override in all)" in text and "reviewed charge − estimate: $500" in text
