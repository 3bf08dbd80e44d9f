"""sources and figures: paths into cards, the deploy template read as cfn-lint reads it, the card of a row
registered before its file gained keys, the entry points from the URL configuration, and how figures print."""

import pytest
from cfnlint.decode import decode_str

from deploy.aws import TEMPLATE_PATH
from predictor.api import api
from predictor.models import ModelVersion
from predictor.technical_file.figures import Estimate, Figure
from predictor.technical_file.sources import api_operations, card_of, commands, deploy_template, key_path, lookup


def test_a_path_reads_keys_indices_and_keys_holding_a_dot():
    data = {"candidates_cv": {"blend_lr0.1_huber0.9": {"mae": 1474.8}}, "groups": [{"n": 3}, {"n": 4}]}
    assert lookup(data, f"{key_path('candidates_cv', 'blend_lr0.1_huber0.9')}.mae") == 1474.8
    assert lookup(data, "groups[1].n") == 4
    for absent in ("groups[2].n", "candidates_cv.blend_lr0", "groups.n", "nothing"):
        with pytest.raises(KeyError):
            lookup(data, absent)


def test_the_deploy_template_reads_as_cfn_lint_decodes_it():
    decoded, matches = decode_str(TEMPLATE_PATH.read_text())
    assert not matches
    ours = deploy_template()
    assert {name: spec.get("Default") for name, spec in ours["Parameters"].items()} == {
        name: spec.get("Default") for name, spec in decoded["Parameters"].items()
    }
    assert ours["Resources"]["LogGroup"]["Properties"]["RetentionInDays"] == 30


def test_a_row_registered_before_its_card_file_gained_a_key_reads_it_from_the_file(db, loaded_model):
    card = {key: value for key, value in loaded_model.card.items() if key != "drift_reference"}
    same = ModelVersion(name=loaded_model.name, sha256=loaded_model.sha256, card=card, trained_at="2026-11-25T13:28:41Z")
    read = card_of(same)
    assert read.data["drift_reference"] == loaded_model.card["drift_reference"]
    assert read.where == f"model card of {loaded_model.name} (drift_reference from {loaded_model.name}.json)"
    other = ModelVersion(name=loaded_model.name, sha256="0" * 64, card=card, trained_at="2026-11-25T13:28:41Z")
    assert "drift_reference" not in card_of(other).data  # another artifact's file is not this row's card


def test_the_entry_points_come_from_the_api_schema_and_the_commands(db):
    schema = api.get_openapi_schema()
    assert {(method, path) for method, path, _ in api_operations()} == {
        (method.upper(), path) for path, methods in schema["paths"].items() for method in methods
    }
    names = [name for name, _ in commands()]
    assert "technical_file" in names and "monitor_report" in names and "migrate" not in names


@pytest.mark.parametrize(("value", "kind", "text"), [
    (-15525.4, "money", "-$15,525.40"),
    (0.8881, "percent", "88.8%"),
    (1338, "count", "1,338"),
    ((60, 60), "rate", "60 requests per 60 s"),
    (["age", "sex"], "text", "age, sex"),
    (False, "flag", "no"),
    (None, "days", "not set"),
    (2190, "days", "2,190 days"),
    (0.8917, "number", "0.8917"),
])
def test_a_figure_prints_its_value_by_kind(value, kind, text):
    assert Figure("x", value, "s", "2026-01-01", kind).text == text


def test_an_estimate_prints_its_interval_or_why_it_has_none():
    def money(value):
        return Figure("x", value, "s", "2026-01-01", "money")

    assert Estimate(money(1.5), money(-2.0), money(3.0)).text == "$1.50 (-$2.00 to $3.00)"
    assert Estimate(money(1.5), note="under 30 rows: no interval").text == "$1.50 (under 30 rows: no interval)"
