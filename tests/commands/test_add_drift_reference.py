"""manage.py add_drift_reference: the reference is added to an older card from its own training data, and nothing else changes."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from predictor.ml import artifacts, drift, stats, training


@pytest.fixture
def older_card(artifact_copy, settings):
    """A copy of the committed model whose card has no drift reference, as cards had before monitoring."""
    settings.PREDICTOR_PIPELINE_PATH = str(artifact_copy)
    card_path = artifacts.card_path_for(artifact_copy)
    card = json.loads(card_path.read_text())
    del card["drift_reference"]
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return artifact_copy, card


def test_adds_the_reference_of_the_training_data_and_changes_nothing_else(older_card, insurance_csv):
    artifact, before = older_card
    sha256 = artifacts.file_sha256(artifact)
    out = StringIO()
    call_command("add_drift_reference", "copy", "--data", str(insurance_csv), stdout=out)
    verified_sha256, after = artifacts.verify_artifact(artifact)  # the artifact still matches its card
    assert verified_sha256 == sha256 == after["artifact_sha256"]
    assert set(after) - set(before) == {"drift_reference"}
    assert {key: after[key] for key in before} == before
    assert after["drift_reference"] == drift.drift_reference(training.data_read([insurance_csv]))
    assert "Added the drift reference" in out.getvalue() and "1,338 training rows" in out.getvalue()


def test_refuses_data_the_model_was_not_trained_on(older_card, insurance_csv, tmp_path):
    artifact, before = older_card
    other = tmp_path / "other.csv"
    other.write_text("".join(insurance_csv.read_text().splitlines(keepends=True)[:100]))
    with pytest.raises(CommandError, match="not the data copy was trained on"):
        call_command("add_drift_reference", "copy", "--data", str(other))
    assert artifacts.read_card(artifact) == before


def test_a_card_with_a_reference_is_left_alone(artifact_copy, settings, insurance_csv):
    settings.PREDICTOR_PIPELINE_PATH = str(artifact_copy)
    before = artifacts.card_path_for(artifact_copy).read_text()
    out = StringIO()
    call_command("add_drift_reference", "copy", "--data", str(insurance_csv), stdout=out)
    assert "nothing changed" in out.getvalue()
    assert artifacts.card_path_for(artifact_copy).read_text() == before


def test_refuses_a_tampered_artifact(older_card, insurance_csv):
    artifact, _ = older_card
    artifact.write_bytes(artifact.read_bytes() + b"\0")
    with pytest.raises(CommandError, match="sha256"):
        call_command("add_drift_reference", "copy", "--data", str(insurance_csv))
