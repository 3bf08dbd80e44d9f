"""Forecast the total yearly charges of a CSV file of patients, with its 50/80/90% ranges and a breakdown.

    python manage.py forecast members.csv
    python manage.py forecast members.csv --json --seed 7

The file has the batch files' columns and rules (a header naming age, sex, bmi, children, smoker
and region, then one patient a line); a file with any bad row is refused, listing each problem
with its line number. Nothing is stored. The active model version forecasts unless ``--model``
names another; ``--seed`` fixes the 10,000 draws of the total summarised under "simulation"
(the figures themselves are computed exactly). Progress goes to stderr.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseDriverError
from tqdm import tqdm

from predictor import csv_io
from predictor.batches import files as batch_files
from predictor.forecasts.presentation import forecast_as_dict, forecast_text
from predictor.forecasts.services import DEFAULT_SEED, ForecastError, forecast_from_table


class Command(BaseCommand):
    help = "Forecast the total yearly charges of a CSV file of patients: expected total, 50/80/90% ranges, breakdown."

    def add_arguments(self, parser):
        parser.add_argument("input", type=Path, help="The CSV file of patients (the batch files' columns).")
        parser.add_argument("--json", action="store_true", help="Print the forecast as one JSON object.")
        parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                            help=f"Seed of the draws of the total (default {DEFAULT_SEED}).")
        parser.add_argument("--model", help="Forecast with this model version instead of the active one.")
        parser.add_argument("--no-progress", action="store_true", help="Do not show progress bars.")

    def handle(self, *args, **options):
        source: Path = options["input"]
        if not source.is_file():
            raise CommandError(f"{source} is not a file.")
        show = not options["no_progress"] and options["verbosity"] >= 1
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if not show:
                return
            bar = bars.get(stage) or bars.setdefault(stage, tqdm(total=total, desc=stage, unit=" cells", file=self.stderr))
            bar.update(done - bar.n)

        try:
            with open(source, encoding="utf-8-sig", newline="") as handle:
                lines = tqdm(handle, desc="reading", unit=" lines", file=self.stderr, disable=not show)
                table = batch_files.batch_csv_read(lines)
            forecast = forecast_from_table(
                table, file_name=source.name, seed=options["seed"], model=options["model"], progress=progress
            )
        except csv_io.CsvFileError as exc:
            count = f"{exc.bad_rows:,} bad row{'s' if exc.bad_rows != 1 else ''}; " if exc.bad_rows else ""
            raise CommandError(f"{source} was not forecast ({count}nothing stored):\n" + "\n".join(exc.problems)) from exc
        except ForecastError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseDriverError as exc:
            raise CommandError(f"The database did not answer, so the active model version is unknown ({exc}).") from exc
        finally:
            for bar in bars.values():
                bar.close()
        if options["json"]:
            self.stdout.write(json.dumps(forecast_as_dict(forecast)))
            return
        self.stdout.write(forecast_text(forecast))
