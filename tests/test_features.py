"""features: the domain-feature step pickled inside the pipeline; its DataFrame path and its one-row path agree."""

import pandas as pd
import pytest

from predictor.features import DOMAIN_FEATURES, FEATURES, InsuranceFeatures, is_smoker
from tests.factories import random_valid_rows

TOLERANCE = 1e-9


def assert_both_paths_agree(rows: list[dict]) -> None:
    step = InsuranceFeatures()
    frame = step.transform(pd.DataFrame.from_records(rows, columns=FEATURES))
    assert list(frame.columns) == [*FEATURES, *DOMAIN_FEATURES]
    for index, row in enumerate(rows):
        values = dict(row)
        step.transform_row(values)
        expected = [float(frame[name].iloc[index]) for name in DOMAIN_FEATURES]
        assert [values[name] for name in DOMAIN_FEATURES] == pytest.approx(expected, abs=TOLERANCE, rel=0), row


def test_the_dataframe_and_the_one_row_paths_agree_on_the_data_file(insurance_csv):
    rows = pd.read_csv(insurance_csv)[list(FEATURES)].to_dict("records")
    assert len(rows) == 1338
    assert_both_paths_agree(rows)


def test_the_dataframe_and_the_one_row_paths_agree_on_random_valid_inputs():
    assert_both_paths_agree(random_valid_rows(3000, seed=11))


def test_the_features_of_one_patient():
    values = {"age": 40, "sex": "male", "bmi": 32.5, "children": 1, "smoker": "yes", "region": "northeast"}
    InsuranceFeatures().transform_row(values)
    assert {name: values[name] for name in DOMAIN_FEATURES} == {
        "age_squared": 1600.0, "obese": 1.0, "smoker_obese": 1.0, "smoker_bmi": 32.5,
    }


def test_obese_means_a_bmi_over_30_and_only_smokers_get_the_interactions():
    frame = InsuranceFeatures().transform(
        pd.DataFrame({"age": [30, 30, 30], "bmi": [30.0, 30.01, 45.0], "smoker": ["yes", "yes", "no"]})
    )
    assert frame["obese"].tolist() == [0.0, 1.0, 1.0]
    assert frame["smoker_obese"].tolist() == [0.0, 1.0, 0.0]
    assert frame["smoker_bmi"].tolist() == [30.0, 30.01, 0.0]


def test_the_input_frame_is_left_as_it_was():
    frame = pd.DataFrame({"age": [30], "bmi": [25.0], "smoker": ["no"]})
    InsuranceFeatures().transform(frame)
    assert list(frame.columns) == ["age", "bmi", "smoker"]


@pytest.mark.parametrize("value,smoker", [("yes", True), (" YES ", True), ("no", False), ("", False), ("y", False)])
def test_is_smoker_reads_only_yes(value, smoker):
    assert is_smoker(value) is smoker


def test_feature_names_out_add_the_domain_features():
    assert InsuranceFeatures().get_feature_names_out(list(FEATURES)) == [*FEATURES, *DOMAIN_FEATURES]
