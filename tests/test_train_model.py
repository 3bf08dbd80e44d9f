"""manage.py train_model on the real data, into a temporary folder."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor import pipeline


@pytest.mark.slow
def test_trains_a_verified_artifact_whose_holdout_r2_is_at_least_0_80(tmp_path, insurance_csv, valid_inputs):
    output_path = tmp_path / "retrained.pkl"
    out = StringIO()
    call_command("train_model", "--data", str(insurance_csv), "--output", str(output_path), "--name", "retrain-test", stdout=out, stderr=StringIO())

    card = json.loads(pipeline.card_path_for(output_path).read_text())
    assert card["name"] == "retrain-test"
    assert card["metrics"]["holdout"]["r2"] >= 0.80
    assert card["data"]["sha256"] == pipeline.file_sha256(insurance_csv)
    assert card["data"]["rows"] == 1338
    assert set(card["versions"]) >= {"python", "pycaret", "scikit-learn", "pandas", "numpy"}
    assert card["training_ranges"]["age"] == [18, 64]
    assert "30% holdout" in out.getvalue() and "10-fold CV" in out.getvalue()

    model = pipeline.load_model_artifact(output_path)  # hash verified against the new card
    [charge] = pipeline.predict_charges([valid_inputs], model=model)
    assert charge > 10_000


def test_refuses_a_missing_data_file(tmp_path):
    with pytest.raises(CommandError, match="No data file"):
        call_command("train_model", "--data", str(tmp_path / "none.csv"), "--output", str(tmp_path / "m.pkl"))


def test_refuses_data_without_the_needed_columns(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("age,sex\n19,female\n")
    with pytest.raises(CommandError, match="lacks the column"):
        call_command("train_model", "--data", str(bad), "--output", str(tmp_path / "m.pkl"), stderr=StringIO())
