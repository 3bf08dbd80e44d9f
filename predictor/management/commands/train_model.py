"""Train the insurance-charges pipeline with PyCaret and write the artifact and its model card.

    python manage.py train_model --data ../shared/data/insurance.csv

The artifact goes to PREDICTOR_PIPELINE_PATH unless ``--output`` says otherwise; the card
(metrics, sha256 of the data and of the artifact, library versions, training time) is
written beside it with the same stem and a `.json` suffix.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from predictor import pipeline

STEPS = 6  # the calls to `step` in pipeline.train


class Command(BaseCommand):
    help = "Train the PyCaret pipeline on the insurance CSV and write the artifact and its model card."

    def add_arguments(self, parser):
        parser.add_argument("--data", required=True, type=Path, help="CSV with age, sex, bmi, children, smoker, region, charges.")
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="Where to write the .pkl artifact (default: PREDICTOR_PIPELINE_PATH). The card goes beside it.",
        )
        parser.add_argument(
            "--name",
            default=None,
            help="Model version name recorded in the card (default: insurance-charges-<UTC timestamp>).",
        )

    def handle(self, *args, data: Path, output: Path | None, name: str | None, verbosity: int, **options):
        if not data.is_file():
            raise CommandError(f"No data file at {data}. Pass the insurance CSV, e.g. --data ../shared/data/insurance.csv")
        output = output or Path(settings.PREDICTOR_PIPELINE_PATH)
        if output.suffix != ".pkl":
            raise CommandError(f"--output must end in .pkl (PyCaret's artifact format), not {output.name}")
        if name is None:
            from django.utils import timezone

            name = f"insurance-charges-{timezone.now():%Y%m%d-%H%M%S}"

        with tqdm(total=STEPS, desc="training", unit="step", disable=verbosity == 0, file=self.stderr._out) as bar:

            def step(description: str) -> None:
                # Called as each step starts, so the previous one has finished.
                if bar.desc != "training":
                    bar.update(1)
                bar.set_description(description)

            try:
                card = pipeline.train(data_path=data, output_path=output, name=name, step=step)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            bar.set_description("done")
            bar.update(STEPS - bar.n)

        cv, holdout = card["metrics"]["cv"], card["metrics"]["holdout"]
        self.stdout.write(f"model {card['name']} ({card['estimator']}), trained in {card['training_seconds']} s")
        self.stdout.write(f"{'':24}{'R²':>8}{'MAE $':>12}{'RMSE $':>12}")
        for label, metrics in (("10-fold CV (70% train)", cv), ("30% holdout", holdout)):
            self.stdout.write(f"{label:24}{metrics['r2']:>8.4f}{metrics['mae']:>12,.2f}{metrics['rmse']:>12,.2f}")
        self.stdout.write(self.style.SUCCESS(f"wrote {output} and {pipeline.card_path_for(output)}"))
