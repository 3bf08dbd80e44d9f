"""Add the drift reference to the card of a model trained before cards had one (run once per such card).

    python manage.py add_drift_reference huber-blend-v1 --data ../shared/data/insurance.csv

``train_model`` writes a card's ``drift_reference`` (the training data's bins for each input,
and the training rows' fingerprints) itself; older cards lack it, and the training data is not
committed, so it is added from the data file here. The file must be the very data the model was
trained on: its sha256 must be the one the card records. Only the new key is added: the
artifact is not touched (its sha256, which the card holds, stays the same), and every other key
of the card keeps its value. The card file is rewritten in place; commit it.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from predictor.ml import artifacts, drift, training


class Command(BaseCommand):
    help = "Add the drift reference, computed from the training data, to an older model card (the artifact is untouched)."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The model version, e.g. huber-blend-v1 (NAME.json beside the default artifact).")
        parser.add_argument(
            "--data", required=True, type=Path, nargs="+", action="extend", help="The CSV file(s) the model was trained on."
        )

    def handle(self, *args, name: str, data: list[Path], **options):
        path = artifacts.artifact_path_for(name)
        try:
            sha256, card = artifacts.verify_artifact(path)
        except artifacts.ModelArtifactError as exc:
            raise CommandError(str(exc)) from exc
        if card.get("drift_reference"):
            self.stdout.write(f"The card of {name} has a drift reference already; nothing changed.")
            return
        for file in data:
            if not file.is_file():
                raise CommandError(f"No data file at {file}.")
        recorded = card.get("data", {})
        files = recorded.get("files") or [recorded]
        given = [artifacts.file_sha256(file) for file in data]
        if given != [item.get("sha256") for item in files]:
            raise CommandError(
                f"These are not the data {name} was trained on: its card records "
                + ", ".join(f"{item.get('file')} (sha256 {item.get('sha256')})" for item in files)
                + "; the files given have sha256 "
                + ", ".join(given)
                + "."
            )
        try:
            frame = training.data_read(data)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        updated = {**card, "drift_reference": drift.drift_reference(frame)}
        card_path = artifacts.card_path_for(path)
        card_path.write_text(json.dumps(updated, indent=2) + "\n")
        if artifacts.verify_artifact(path) != (sha256, updated):
            raise CommandError(f"{card_path} did not read back as written; restore it with git checkout.")
        reference = updated["drift_reference"]
        self.stdout.write(
            self.style.SUCCESS(f"Added the drift reference to {card_path}")
            + f" ({reference['rows']:,} training rows, {len(reference['inputs'])} inputs, "
            f"{len(reference['fingerprints']['values']):,} distinct patients); the artifact {path.name} is unchanged "
            f"(sha256 {sha256})."
        )
