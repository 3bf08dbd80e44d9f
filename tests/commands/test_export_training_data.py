"""manage.py export_training_data: the predictions with actual charges, in the training file's columns."""

import csv
from datetime import datetime, timezone
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.ml import training
from tests.factories import PredictionFactory

pytestmark = pytest.mark.django_db


def test_writes_the_rows_with_actual_charges_in_the_training_files_columns(tmp_path, insurance_csv):
    PredictionFactory(age=19, sex="female", bmi=27.9, children=0, smoker="yes", region="southwest",
                      actual_charges=Decimal("16884.92"), created_at=datetime(2026, 1, 2, tzinfo=timezone.utc))
    PredictionFactory(age=18, sex="male", bmi=33.77, children=1, smoker="no", region="southeast",
                      actual_charges=Decimal("1725.55"), created_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    PredictionFactory()  # no actual charges: not a training row
    out = tmp_path / "billed.csv"
    err = StringIO()
    call_command("export_training_data", str(out), stderr=err)
    assert "2 rows with actual charges written" in err.getvalue()
    header = insurance_csv.read_text().splitlines()[0]
    assert out.read_text().splitlines() == [
        header, "18,male,33.77,1,no,southeast,1725.55", "19,female,27.9,0,yes,southwest,16884.92",
    ]
    # train_model reads it as it reads the data file.
    frame = training.data_read([insurance_csv, out])
    assert len(frame) == 1338 + 2 and frame.iloc[-1].to_dict() == {
        "age": 19, "sex": "female", "bmi": 27.9, "children": 0, "smoker": "yes", "region": "southwest", "charges": 16884.92,
    }


def test_writes_to_standard_output_and_refuses_to_overwrite(tmp_path):
    PredictionFactory(actual_charges=Decimal("5"))
    out = StringIO()
    call_command("export_training_data", "-", stdout=out)
    rows = list(csv.reader(StringIO(out.getvalue())))
    assert rows[0] == ["age", "sex", "bmi", "children", "smoker", "region", "charges"] and rows[1][-1] == "5.00"
    existing = tmp_path / "taken.csv"
    existing.write_text("keep me")
    with pytest.raises(CommandError, match="exists already"):
        call_command("export_training_data", str(existing))
    assert existing.read_text() == "keep me"
