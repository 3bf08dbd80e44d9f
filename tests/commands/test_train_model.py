"""manage.py train_model, through call_command: what it prints after a real retrain, and what it refuses."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.slow
def test_prints_the_cv_and_holdout_metrics_the_interval_and_how_to_serve_it(retrained):
    card, artifact, output = retrained
    assert "30% holdout" in output and "10-fold CV" in output and "90% interval" in output
    assert f"model retrain-test ({card['estimator']})" in output
    assert f"wrote {artifact}" in output
    assert "serve it with: python manage.py activate_model retrain-test" in output


def test_refuses_a_missing_data_file(tmp_path):
    with pytest.raises(CommandError, match="No data file"):
        call_command("train_model", "--data", str(tmp_path / "none.csv"), "--output-dir", str(tmp_path))


def test_refuses_data_without_the_needed_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("age,sex\n19,female\n")
    with pytest.raises(CommandError, match="lacks the column"):
        call_command("train_model", "--data", str(bad), "--output-dir", str(tmp_path), stderr=StringIO())


def test_refuses_to_overwrite_an_existing_model(tmp_path, insurance_csv):
    (tmp_path / "taken.pkl").write_bytes(b"")
    with pytest.raises(CommandError, match="exists already"):
        call_command("train_model", "--data", str(insurance_csv), "--output-dir", str(tmp_path), "--name", "taken")


def test_refuses_a_name_that_is_not_a_file_name(tmp_path, insurance_csv):
    with pytest.raises(CommandError, match="--name"):
        call_command("train_model", "--data", str(insurance_csv), "--output-dir", str(tmp_path), "--name", "../escape")


def test_fairness_only_needs_an_existing_version(tmp_path, insurance_csv):
    with pytest.raises(CommandError, match="--fairness-only needs the --name of an existing version"):
        call_command("train_model", "--data", str(insurance_csv), "--fairness-only")
    with pytest.raises(CommandError, match="No artifact at .*nothing-here.pkl: --fairness-only adds to an existing version"):
        call_command("train_model", "--data", str(insurance_csv), "--name", "nothing-here", "--fairness-only",
                     "--output-dir", str(tmp_path))


def test_drop_input_takes_only_the_six_inputs(insurance_csv):
    with pytest.raises(CommandError, match="invalid choice: 'gender'"):
        call_command("train_model", "--data", str(insurance_csv), "--drop-input", "gender")
