"""Write tests/golden/predictions.csv from the committed artifacts in predictor/artifacts/.

    .venv/bin/python -m tests.golden.make_golden

Run it ONLY when predictions change on purpose (a retrained or newly committed model, a
deliberate change to the feature step), never to make a failing test pass after a library
upgrade: that failure is what the table is for. Commit the new table with a message saying
why the answers changed.

For each patient below and each committed model (every NAME.pkl, hash-verified against its
card) it records the charge and the 90% interval as the pipeline's own ``predict`` gives
them (the source of truth; the one-row fast path is tested against the table), rounded to
cents as the app stores them. Low and high are empty for a model without an interval.
"""

from __future__ import annotations

import csv
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
if str(PROJECT_DIR) not in sys.path:  # run as a file rather than with -m
    sys.path.insert(0, str(PROJECT_DIR))

from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT  # noqa: E402
from predictor.ml.artifacts import load_model_artifact  # noqa: E402
from predictor.ml.interval import prediction_interval  # noqa: E402
from predictor.ml.predict import predict_charges_pipeline  # noqa: E402
from tests.golden import ANSWERS, GOLDEN_CSV, INPUT_TYPES, column  # noqa: E402

ARTIFACTS = PROJECT_DIR / "predictor" / "artifacts"

# Across the form's ranges (age 18-100, BMI 10-70, children 0-10), both sexes, smokers and
# not, obese (BMI over 30) and not, every region; the training ranges' edges (age 18-64,
# BMI 15.96-53.13, children 0-5) and extrapolations beyond them; BMI 30.0 and 30.01 either
# side of the obesity line. The first three are the patients the other tests use.
PATIENTS = [
    SAMPLE_PATIENT,
    SECOND_PATIENT,
    {"age": 64, "sex": "female", "bmi": 40.0, "children": 3, "smoker": "no", "region": "southeast"},
    {"age": 18, "sex": "male", "bmi": 33.77, "children": 1, "smoker": "no", "region": "southeast"},
    {"age": 28, "sex": "male", "bmi": 33.0, "children": 3, "smoker": "no", "region": "southeast"},
    {"age": 45, "sex": "female", "bmi": 25.0, "children": 2, "smoker": "no", "region": "northeast"},
    {"age": 50, "sex": "male", "bmi": 30.0, "children": 1, "smoker": "yes", "region": "northwest"},
    {"age": 50, "sex": "male", "bmi": 30.01, "children": 1, "smoker": "yes", "region": "northwest"},
    {"age": 37, "sex": "female", "bmi": 30.0, "children": 0, "smoker": "no", "region": "northeast"},
    {"age": 37, "sex": "female", "bmi": 30.01, "children": 0, "smoker": "no", "region": "northeast"},
    {"age": 60, "sex": "female", "bmi": 35.5, "children": 0, "smoker": "yes", "region": "southeast"},
    {"age": 42, "sex": "male", "bmi": 24.3, "children": 4, "smoker": "yes", "region": "northeast"},
    {"age": 55, "sex": "female", "bmi": 45.2, "children": 5, "smoker": "no", "region": "southwest"},
    {"age": 23, "sex": "male", "bmi": 19.8, "children": 0, "smoker": "no", "region": "southwest"},
    {"age": 31, "sex": "female", "bmi": 53.13, "children": 2, "smoker": "yes", "region": "northwest"},
    {"age": 64, "sex": "male", "bmi": 15.96, "children": 5, "smoker": "no", "region": "northeast"},
    {"age": 58, "sex": "female", "bmi": 33.3, "children": 0, "smoker": "yes", "region": "southwest"},
    {"age": 26, "sex": "male", "bmi": 27.5, "children": 1, "smoker": "yes", "region": "southeast"},
    # Extrapolations: outside the training ranges, inside the form's.
    {"age": 65, "sex": "female", "bmi": 29.0, "children": 0, "smoker": "no", "region": "southwest"},
    {"age": 80, "sex": "male", "bmi": 31.2, "children": 1, "smoker": "yes", "region": "southeast"},
    {"age": 72, "sex": "female", "bmi": 22.0, "children": 8, "smoker": "no", "region": "southwest"},
    {"age": 90, "sex": "male", "bmi": 55.5, "children": 6, "smoker": "yes", "region": "southwest"},
    {"age": 35, "sex": "female", "bmi": 28.4, "children": 10, "smoker": "no", "region": "northeast"},
    {"age": 48, "sex": "male", "bmi": 41.0, "children": 7, "smoker": "yes", "region": "northwest"},
    {"age": 25, "sex": "female", "bmi": 12.5, "children": 0, "smoker": "yes", "region": "southeast"},
    {"age": 40, "sex": "male", "bmi": 60.0, "children": 2, "smoker": "no", "region": "northwest"},
    {"age": 18, "sex": "male", "bmi": 10.0, "children": 0, "smoker": "no", "region": "northwest"},
    {"age": 19, "sex": "female", "bmi": 70.0, "children": 0, "smoker": "no", "region": "southeast"},
    {"age": 100, "sex": "female", "bmi": 70.0, "children": 10, "smoker": "yes", "region": "northeast"},
    {"age": 100, "sex": "male", "bmi": 10.0, "children": 0, "smoker": "no", "region": "northeast"},
]

CENT = Decimal("0.01")


def cents(value: float | None) -> str:
    """Dollars and cents, rounded as the app stores them (predictor.services)."""
    return "" if value is None else str(Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def main() -> None:
    header = list(INPUT_TYPES)
    table = [{name: patient[name] for name in INPUT_TYPES} for patient in PATIENTS]
    for artifact in sorted(ARTIFACTS.glob("*.pkl")):
        model = load_model_artifact(artifact)
        interval = model.card.get("interval")
        header += [column(model.name, answer) for answer in ANSWERS]
        for row, patient, point in zip(table, PATIENTS, predict_charges_pipeline(PATIENTS, model), strict=True):
            low, high = prediction_interval(point, patient, interval) if interval else (None, None)
            row.update(zip((column(model.name, answer) for answer in ANSWERS), map(cents, (point, low, high))))
    with open(GOLDEN_CSV, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    print(f"wrote {len(table)} patients x {(len(header) - len(INPUT_TYPES)) // len(ANSWERS)} models to {GOLDEN_CSV}")


if __name__ == "__main__":
    main()
