"""bench/bound_paths.py: an API batch and a file of actual charges against their bounds, on a few rows."""

import pytest
from django.db import connection

from bench import bound_paths
from predictor.models import ActualChargeChange, Prediction


def scratch_tables() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'bench_%%scratch%%'")
        return [name for (name,) in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_the_api_batch_is_answered_stored_and_set_against_its_bound(loaded_model, active_model_version, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1"]
    result = bound_paths.api_batch_measure(50, model=loaded_model, model_version_id=active_model_version.pk, repeats=2)
    assert Prediction.objects.filter(source="api").count() == 100  # two batches of 50, each stored
    assert result["bound"]["rows_copied"] == 50 and result["ratio"] > 0
    assert scratch_tables() == []


@pytest.mark.django_db(transaction=True)
def test_the_actuals_file_is_recorded_and_its_bound_records_the_same_rows_on_copies(active_model_version):
    result = bound_paths.actuals_measure(300)
    # record_actuals recorded every row once; the bound worked on scratch copies, dropped afterwards.
    assert Prediction.objects.filter(actual_charges__isnull=False).count() == 300
    assert ActualChargeChange.objects.count() == 300
    assert result["bound"]["rows"] == 300 and set(bound_paths.ACTUALS_STEPS) <= set(result["bound"])
    assert bound_paths.paths_checks({"actuals": result}) == [
        ("the actual-charges bound recorded 300 rows of 300", True)
    ]
    assert scratch_tables() == []


@pytest.mark.django_db(transaction=True)
def test_an_unknown_id_fails_the_bound_and_leaves_no_table(tmp_path, active_model_version):
    source = tmp_path / "actuals.csv"
    source.write_text("prediction_id,actual_charges\n999999,100.00\n")
    with pytest.raises(ValueError, match="1 ids are not stored predictions"):
        bound_paths.actuals_bound_measure(source, [])
    assert scratch_tables() == []
