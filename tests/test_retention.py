"""predictor.retention: the bands, the settings that configure it, and how anonymised rows read elsewhere."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from predictor import explanations, retention
from predictor.features import OBESITY_BMI
from predictor.forecasts.cohorts import AGE_BANDS
from predictor.models import Prediction
from tests.factories import PredictionFactory
from tests.test_settings import PRODUCTION, PROJECT_DIR, start

# --- the bands --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "label", "stored"),
    [
        ("age", 18, "18-29", 24), ("age", 29, "18-29", 24), ("age", 30, "30-39", 35), ("age", 39, "30-39", 35),
        ("age", 40, "40-49", 45), ("age", 49, "40-49", 45), ("age", 50, "50-64", 57), ("age", 64, "50-64", 57),
        ("age", 65, "65+", 70), ("age", 100, "65+", 70),
        ("bmi", 10.0, "under 15.96", 13.0), ("bmi", 15.959, "under 15.96", 13.0), ("bmi", 15.96, "15.96-18.5", 17.25),
        ("bmi", 18.5, "15.96-18.5", 17.25), ("bmi", 18.501, "18.5-25", 21.75), ("bmi", 25.0, "18.5-25", 21.75),
        ("bmi", 25.001, "25-30", 27.5), ("bmi", 30.0, "25-30", 27.5), ("bmi", 30.001, "30-35", 32.5),
        ("bmi", 35.0, "30-35", 32.5), ("bmi", 40.0, "35-40", 37.5), ("bmi", 40.01, "40-53.13", 46.5),
        ("bmi", 53.13, "40-53.13", 46.5), ("bmi", 53.131, "over 53.13", 60.0), ("bmi", 70.0, "over 53.13", 60.0),
        ("children", 0, "0", 0), ("children", 1, "1-2", 1), ("children", 2, "1-2", 1), ("children", 3, "3-5", 3),
        ("children", 5, "3-5", 3), ("children", 6, "6+", 8), ("children", 10, "6+", 8),
    ],
)
def test_each_value_falls_in_the_band_worked_by_hand(name, value, label, stored):
    assert retention.band_label(name, value) == label
    assert retention.banded(name, value) == stored


def test_a_band_s_stored_value_reads_back_as_the_same_band():
    for name, bands in retention.BANDS.items():
        for band in bands:
            assert retention.band_of(name, band.value) == band, (name, band.label)


def test_no_band_straddles_an_edge_the_app_groups_by():
    # Every whole age the form accepts keeps its forecast age band and its side of the training range.
    for age in range(18, 101):
        stored = retention.banded("age", age)
        band = next(index for index, (_, first, last) in enumerate(AGE_BANDS) if last is None or age <= last)
        assert next(index for index, (_, first, last) in enumerate(AGE_BANDS) if last is None or stored <= last) == band
        assert (18 <= stored <= 64) == (18 <= age <= 64)
    # BMI to 3 decimals across the form's range: obesity (the interval groups) and the training range kept.
    for thousandths in range(10_000, 70_001):
        bmi = thousandths / 1000
        stored = retention.banded("bmi", bmi)
        assert (stored > OBESITY_BMI) == (bmi > OBESITY_BMI), bmi
        assert (15.96 <= stored <= 53.13) == (15.96 <= bmi <= 53.13), bmi
    for children in range(0, 11):
        assert (retention.banded("children", children) <= 5) == (children <= 5)


@pytest.mark.django_db
def test_the_database_bands_values_exactly_as_python_does(active_model_version):
    values = [(18, 15.959, 0), (29, 15.96, 2), (30, 30.0, 3), (64, 30.000001, 5), (65, 53.13, 6), (99, 53.1300001, 10)]
    made = timezone.now() - timedelta(days=2)
    rows = [PredictionFactory(model_version=active_model_version, age=a, bmi=b, children=c, created_at=made) for a, b, c in values]

    retention.retention_apply(action="anonymise", cutoff=timezone.now() - timedelta(days=1))

    for row, (age, bmi, children) in zip(rows, values):
        row.refresh_from_db()
        assert (row.age, row.bmi, row.children) == (
            retention.banded("age", age), retention.banded("bmi", bmi), retention.banded("children", children)
        )


def test_the_policy_reads_as_one_sentence():
    assert retention.Policy(days=None, action="anonymise").describe() == "Inputs are kept forever (PREDICTOR_RETENTION_DAYS is not set)."
    assert retention.Policy(days=365, action="anonymise").describe() == "Inputs are kept 365 days, then anonymised."
    assert retention.Policy(days=1, action="delete").describe() == "Inputs are kept 1 day, then deleted."
    assert retention.Policy(days=1095, action="delete").describe() == "Inputs are kept 1,095 days, then deleted."


# --- the environment variables ----------------------------------------------------------------

PROBE = """
import json
import django
django.setup()
from django.conf import settings
print(json.dumps([settings.PREDICTOR_RETENTION_DAYS, settings.PREDICTOR_RETENTION_ACTION]))
"""


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        ({}, [None, "anonymise"]),
        ({"PREDICTOR_RETENTION_DAYS": "", "PREDICTOR_RETENTION_ACTION": ""}, [None, "anonymise"]),
        ({"PREDICTOR_RETENTION_DAYS": " 365 ", "PREDICTOR_RETENTION_ACTION": "delete"}, [365, "delete"]),
        ({"PREDICTOR_RETENTION_DAYS": "1", "PREDICTOR_RETENTION_ACTION": "anonymise"}, [1, "anonymise"]),
        ({"PREDICTOR_RETENTION_DAYS": "36500", "PREDICTOR_ACCESS_LOG_RETENTION_DAYS": "36500"}, [36500, "anonymise"]),
    ],
)
def test_the_retention_variables_are_read(tmp_path, variables, expected):
    import json

    result = start(tmp_path, "-c", PROBE, **PRODUCTION, **variables)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == expected


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("PREDICTOR_RETENTION_DAYS", "0", "PREDICTOR_RETENTION_DAYS must be a whole number of days from 1 to 36,500 (or empty to keep inputs forever), not '0'."),
        ("PREDICTOR_RETENTION_DAYS", "-30", "not '-30'"),
        ("PREDICTOR_RETENTION_DAYS", "1.5", "not '1.5'"),
        ("PREDICTOR_RETENTION_DAYS", "a year", "not 'a year'"),
        ("PREDICTOR_RETENTION_DAYS", "36501", "not '36501'"),
        ("PREDICTOR_RETENTION_DAYS", "٣٠", "not '٣٠'"),  # digits, but not ASCII ones
        ("PREDICTOR_RETENTION_ACTION", "remove", "PREDICTOR_RETENTION_ACTION must be anonymise or delete (empty means anonymise), not 'remove'."),
        ("PREDICTOR_RETENTION_ACTION", "anonymize", "not 'anonymize'"),
    ],
)
def test_a_bad_retention_variable_stops_the_start_naming_it(tmp_path, name, value, message):
    result = start(tmp_path, str(PROJECT_DIR / "manage.py"), "check", **PRODUCTION, **{name: value})

    assert result.returncode != 0
    [line] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert name in line and message in line


def test_the_example_environment_keeps_inputs_forever(tmp_path):
    from tests.test_settings import env_example

    example = {name: value for name, value in env_example().items() if value is not None}
    result = start(tmp_path, "-c", PROBE, **example)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == '[null, "anonymise"]'


# --- anonymised rows elsewhere -----------------------------------------------------------------


@pytest.fixture
def anonymised(active_model_version):
    """One prediction anonymised (age 19, BMI 27.9, 0 children as entered) and one kept, both smokers."""
    made = timezone.now() - timedelta(days=40)
    old = PredictionFactory(model_version=active_model_version, age=19, bmi=27.9, children=0, smoker="yes",
                            sex="female", region="southwest", created_at=made, actual_charges=Decimal("16884.92"),
                            predicted_charges_low=Decimal("12000.00"), predicted_charges_high=Decimal("13000.00"))
    new = PredictionFactory(model_version=active_model_version, age=19, bmi=27.9, children=0, smoker="yes",
                            sex="female", region="southwest", actual_charges=Decimal("16884.92"),
                            predicted_charges_low=Decimal("12000.00"), predicted_charges_high=Decimal("13000.00"))
    retention.retention_apply(action="anonymise", cutoff=timezone.now() - timedelta(days=30))
    old.refresh_from_db()
    return old, new


@pytest.mark.django_db
def test_anonymised_rows_get_no_explanation_or_what_ifs(anonymised):
    old, new = anonymised

    assert old.anonymised_at is not None and (old.age, old.bmi) == (24, 27.5)
    assert explanations.prediction_drivers(old) is None and explanations.prediction_what_ifs(old) == []
    assert explanations.prediction_drivers(new) is not None and explanations.prediction_what_ifs(new) != []
    # The interval group and the extrapolation flags stay those of the person as entered.
    assert explanations.prediction_explain(old).interval_group.name == explanations.prediction_explain(new).interval_group.name
    assert explanations.prediction_explain(old).extrapolated_names == explanations.prediction_explain(new).extrapolated_names == []


@pytest.mark.django_db
def test_the_api_marks_anonymised_rows_and_leaves_out_their_explanation(anonymised, admin_client):
    old, new = anonymised

    stored = admin_client.get(f"/api/v1/predictions/{old.pk}?explain=true").json()
    kept = admin_client.get(f"/api/v1/predictions/{new.pk}?explain=true").json()

    assert stored["anonymised_at"] is not None and stored["age"] == 24 and stored["bmi"] == 27.5
    assert "contributions" not in stored and "base_value" not in stored
    assert stored["created_at"].endswith("T00:00:00Z")
    assert kept["anonymised_at"] is None and "contributions" in kept


@pytest.mark.django_db
def test_the_admin_shows_the_retention_and_the_bands_of_anonymised_rows(anonymised, admin_client, settings):
    old, new = anonymised
    settings.PREDICTOR_RETENTION_DAYS = 30

    html = admin_client.get("/admin/predictor/prediction/").content.decode()

    assert "Retention: Inputs are kept 30 days, then anonymised." in html
    assert '<td class="field-age_shown">18-29</td>' in html and '<td class="field-bmi_shown">25-30</td>' in html
    assert '<td class="field-age_shown">19</td>' in html and '<td class="field-bmi_shown">27.9</td>' in html
    assert f"anonymised {old.anonymised_at:%Y-%m-%d}" in html and "as entered" in html
    only = admin_client.get("/admin/predictor/prediction/?inputs=anonymised").content.decode()
    assert f'href="/admin/predictor/prediction/{old.pk}/change/' in only
    assert f'href="/admin/predictor/prediction/{new.pk}/change/' not in only
    detail = admin_client.get(f"/admin/predictor/prediction/{old.pk}/change/").content.decode()
    assert "18-29" in detail and "25-30" in detail and "the time is the day" in detail
    settings.PREDICTOR_RETENTION_DAYS, settings.PREDICTOR_RETENTION_ACTION = None, "anonymise"
    assert "Retention: Inputs are kept forever" in admin_client.get("/admin/predictor/prediction/").content.decode()


@pytest.mark.django_db
def test_export_training_data_leaves_anonymised_rows_out_and_says_so(anonymised):
    out, err = StringIO(), StringIO()

    call_command("export_training_data", "-", stdout=out, stderr=err)

    assert out.getvalue().splitlines() == ["age,sex,bmi,children,smoker,region,charges", "19,female,27.9,0,yes,southwest,16884.92"]


@pytest.mark.django_db
def test_export_training_data_counts_what_it_left_out(anonymised, tmp_path):
    err = StringIO()

    call_command("export_training_data", str(tmp_path / "rows.csv"), stdout=StringIO(), stderr=err)

    assert "1 rows with actual charges written" in err.getvalue()
    assert "1 anonymised predictions with actual charges left out" in err.getvalue()


@pytest.mark.django_db
def test_the_monitoring_report_says_how_many_anonymised_rows_drift_leaves_out(anonymised):
    out = StringIO()

    try:
        call_command("monitor_report", "--json", stdout=out)
    except SystemExit as exc:  # 1 when an alert or drift flag is raised; the figures are printed either way
        assert exc.code == 1
    import json

    document = json.loads(out.getvalue())
    assert document["drift_anonymised"] == 1
    assert {name: item["n"] for name, item in document["drift"].items()} == {
        "age": 1, "bmi": 1, "children": 1, "sex": 2, "smoker": 2, "region": 2,
    }
