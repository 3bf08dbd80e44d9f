"""Score a CSV file of patients: the same file back with a ``predicted_charges`` column.

    python manage.py predict_csv members.csv members-predicted.csv

The file needs a header naming the columns age, sex, bmi, children, smoker and region
(any order; other columns are kept). Every row is checked like the web form; a file
with any bad row is rejected whole, listing each problem with its line number, and
nothing is stored. Otherwise the rows are stored as one Batch (source "batch") with
PostgreSQL's COPY, checked, predicted and stored as columns, and OUT.csv is written. No row
limit (100,000 rows take about 4 s; see docs/performance.md).
"""

import time
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from predictor import csv_io, services
from predictor.batches import files as batch_files

STAGES = {"validated": "checking rows", "predicted": "predicting", "stored": "storing"}


class Command(BaseCommand):
    help = "Predict the yearly charges of every patient in a CSV file and write it back with a predicted_charges column."

    def add_arguments(self, parser):
        parser.add_argument("input", type=Path, help="The CSV file to score.")
        parser.add_argument("output", type=Path, help="Where to write the scored CSV ('-' for standard output).")
        parser.add_argument("--user", help="Record this username as the one who scored the batch.")
        parser.add_argument("--no-progress", action="store_true", help="Do not show progress bars.")

    def handle(self, *args, **options):
        source, target = options["input"], options["output"]
        if not source.is_file():
            raise CommandError(f"{source} is not a file.")
        if str(target) != "-" and target.resolve() == source.resolve():
            raise CommandError("Write the result to another file than the input.")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: options["user"]}).first()
            if user is None:
                raise CommandError(f"There is no user {options['user']!r}.")
        show = not options["no_progress"] and options["verbosity"] >= 1
        started = time.perf_counter()
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int) -> None:
            if not show:
                return
            bar = bars.get(stage)
            if bar is None:
                bar = bars[stage] = tqdm(total=total, desc=STAGES[stage], unit=" rows", file=self.stderr, leave=True)
            bar.update(done - bar.n)
            if done >= total:
                bar.close()

        try:
            with open(source, encoding="utf-8-sig", newline="") as handle:
                lines = tqdm(handle, desc="reading", unit=" lines", file=self.stderr, disable=not show)
                table = batch_files.batch_csv_read(lines)
            total = len(table.rows)
            scored, stored = batch_files.batch_score(table=table, file_name=source.name, created_by=user, progress=progress)
        except csv_io.CsvFileError as exc:
            count = f"{exc.bad_rows:,} bad row{'s' if exc.bad_rows != 1 else ''}; " if exc.bad_rows else ""
            raise CommandError(f"{source} was not scored ({count}nothing stored):\n" + "\n".join(exc.problems)) from exc
        except services.PredictionUnavailable as exc:
            raise CommandError(f"{source} was not scored, nothing stored: {exc}") from exc
        finally:
            for bar in bars.values():
                bar.close()
        if str(target) == "-":
            batch_files.csv_write(table, stored.charges, self.stdout)
        else:
            with open(target, "w", encoding="utf-8", newline="") as out:
                batch_files.csv_write(table, stored.charges, out)
        if options["verbosity"] >= 1:
            self.stderr.write(
                self.style.SUCCESS(f"{scored.row_count:,} rows scored")
                + f" as batch {scored.pk} in {time.perf_counter() - started:.1f} s"
                + ("" if str(target) == "-" else f"; written to {target}")
            )
