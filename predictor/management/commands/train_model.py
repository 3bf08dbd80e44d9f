"""Train the insurance-charges pipeline with PyCaret and write the artifact and its model card.

    python manage.py train_model --data ../shared/data/insurance.csv
    python manage.py train_model --data ../shared/data/insurance.csv --data billed-2026.csv --name huber-blend-v3
    python manage.py train_model --data ../shared/data/insurance.csv --name huber-blend-v2-unaware --drop-input sex
    python manage.py train_model --data ../shared/data/insurance.csv --name huber-blend-v2 --fairness-only

Several ``--data`` files are read one after the other (the data file and the rows that
``export_training_data`` writes, for instance). It writes NAME.pkl and its card NAME.json
(metrics, the prediction interval, sha256 of the data and of the artifact, the drift
reference monitoring compares inputs with, library versions, training time) to the
artifacts folder (the folder of PREDICTOR_PIPELINE_PATH) or ``--output-dir``. ``activate_model NAME`` serves it.

``--drop-input sex`` trains the same method without that input (the pipeline still takes all six
and drops it). ``--fairness-only`` trains nothing: it writes the card's ``fairness`` key for the
existing version ``--name`` with the same splits and method, leaving its artifact (and sha256) as it is.

Training needs the full install (requirements.txt). The container image has the serving-only
set (requirements-serve.txt), where this command stops at once and says so.
"""

import importlib
import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from predictor.features import FEATURES
from predictor.ml import artifacts, fairness_fit, training

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# What training imports beyond the serving set: PyCaret's experiment API and the LightGBM candidate.
TRAINING_MODULES = ("pycaret.regression", "lightgbm")
FULL_INSTALL_HINT = (
    "Training needs the full install (requirements.txt: PyCaret with its training stack), but this is "
    "the serving-only install (requirements-serve.txt, as in the container image), where {failure}. "
    "Train on a development machine: `make train DATA=../shared/data/insurance.csv NAME=...` "
    "(or `pip install -r requirements.txt`, then this command), commit NAME.pkl and NAME.json, "
    "and rebuild the image."
)


def training_stack_missing() -> str | None:
    """Why the training stack cannot be imported here (the serving-only install), or None when it can."""
    for module in TRAINING_MODULES:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return f"`import {module}` fails ({exc})"
    return None


class Command(BaseCommand):
    help = "Train the PyCaret pipeline on the insurance CSV and write the artifact and its model card."

    def add_arguments(self, parser):
        parser.add_argument(
            "--data",
            required=True,
            type=Path,
            nargs="+",
            action="extend",
            help="CSV with age, sex, bmi, children, smoker, region, charges; give several (--data A B, or --data A "
            "--data B) to train on all their rows.",
        )
        parser.add_argument(
            "--name",
            default=None,
            help="Model version name; the files are NAME.pkl and NAME.json (default: insurance-charges-<UTC timestamp>).",
        )
        parser.add_argument(
            "--output-dir",
            type=Path,
            default=None,
            help="Folder for the artifact and its card (default: the folder of PREDICTOR_PIPELINE_PATH).",
        )

        parser.add_argument(
            "--drop-input",
            dest="drop_inputs",
            action="append",
            default=[],
            choices=FEATURES,
            help="Train without this input (repeatable); the version still takes all six and ignores it, e.g. --drop-input sex.",
        )
        parser.add_argument(
            "--fairness-only",
            action="store_true",
            help="Train nothing: write the fairness figures into the card of the existing version --name "
            "(same splits and method; the artifact is not changed).",
        )

    def handle(self, *args, data: list[Path], name: str | None, output_dir: Path | None, verbosity: int,
               drop_inputs: list[str], fairness_only: bool, **options):
        failure = training_stack_missing()
        if failure:
            raise CommandError(FULL_INSTALL_HINT.format(failure=failure))
        for path in data:
            if not path.is_file():
                raise CommandError(f"No data file at {path}. Pass the insurance CSV, e.g. --data ../shared/data/insurance.csv")
        if fairness_only and not name:
            raise CommandError("--fairness-only needs the --name of an existing version.")
        name = name or f"insurance-charges-{timezone.now():%Y%m%d-%H%M%S}"
        if not NAME_PATTERN.fullmatch(name):
            raise CommandError("--name may hold letters, digits, dots, dashes and underscores only (it names files).")
        output = (output_dir or artifacts.artifacts_folder()) / f"{name}.pkl"
        if fairness_only:
            return self._fairness_only(output, data)
        if output.exists():
            raise CommandError(f"{output} exists already: give the new model another --name.")

        with tqdm(total=training.PROGRESS_STEPS, desc="training", unit="step", disable=verbosity == 0, file=self.stderr._out) as bar:

            def step(description: str, advance: bool = True) -> None:
                # Called as each step starts, so the previous one has finished; advance=False reports within a step.
                if advance and bar.desc != "training":
                    bar.update(1)
                bar.set_description(description)

            try:
                card = training.train(data_path=data, output_path=output, name=name, drop_inputs=drop_inputs, step=step)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            bar.set_description("done")
            bar.update(training.PROGRESS_STEPS - bar.n)

        cv, holdout = card["cv"], card["holdout"]
        self.stdout.write(f"model {card['name']} ({card['estimator']}), trained in {card['training_seconds']} s")
        self.stdout.write(f"{'':24}{'R²':>8}{'MAE $':>12}{'RMSE $':>12}")
        for label, metrics in (("10-fold CV (70% train)", cv), ("30% holdout", holdout)):
            self.stdout.write(f"{label:24}{metrics['r2']:>8.4f}{metrics['mae']:>12,.2f}{metrics['rmse']:>12,.2f}")
        self.stdout.write(
            f"90% interval: holdout coverage {holdout['interval_coverage']:.1%}, "
            f"mean width ${holdout['mean_interval_width']:,.0f}"
        )
        for size, figures in card.get("cohort_calibration", {}).items():
            self.stdout.write(
                f"cohorts of {size} ({figures['repetitions']} random 70/30 splits): 90% range held "
                f"{figures['coverage_90']:.1%}, 50% range {figures['coverage_50']:.1%}, "
                f"expected total's mean error {figures['mean_total_error']:+.1%}"
            )
        if "interval_calibration" in card:
            groups = card["interval_calibration"]["groups"]
            self.stdout.write(
                "90% interval over the same splits: "
                + ", ".join(f"{group} {figures['coverage']:.1%}" for group, figures in groups.items())
            )
        self.stdout.write(self.style.SUCCESS(f"wrote {output} and {artifacts.card_path_for(output)}"))
        self.stdout.write(f"serve it with: python manage.py activate_model {name}")

    def _fairness_only(self, output: Path, data: list[Path]) -> None:
        if not output.is_file():
            raise CommandError(f"No artifact at {output}: --fairness-only adds to an existing version.")
        try:
            card = fairness_fit.card_fairness_add(
                output, training.data_read(data), target=training.TARGET,
                test_fraction=training.HOLDOUT_FRACTION, seed=training.SESSION_ID,
            )
        except (ValueError, artifacts.ModelArtifactError) as exc:
            raise CommandError(str(exc)) from exc
        fairness = card["fairness"]
        self.stdout.write(
            f"fairness of {card['name']}: {fairness['rows']['count']} out-of-fold rows in {fairness['seconds']} s; "
            f"leakage AUC {fairness['leakage']['auc']:.3f}"
        )
        for label, variant in fairness["variants"].items():
            difference = variant["difference"]
            self.stdout.write(
                f"{label:20} MAE ${variant['mae']:,.2f}; |error| vs served {difference['mean']:+,.2f} "
                f"(95% {difference['low']:+,.2f} to {difference['high']:+,.2f})"
            )
        self.stdout.write(self.style.SUCCESS(f"wrote {artifacts.card_path_for(output)} (the artifact is unchanged)"))
