"""Write the stored predictions that have actual charges as training rows, for the next model.

    python manage.py export_training_data billed.csv
    python manage.py train_model --data ../shared/data/insurance.csv --data billed.csv --name huber-blend-v3

The file has the training file's columns, ``age,sex,bmi,children,smoker,region,charges``, where
``charges`` is the actual charges recorded; one row per prediction with actual charges, oldest
first. Patients of the original data file that were predicted and given their real charges come
out again: train on both files only with that in mind (the card's drift reference and its holdout
then count them twice). Anonymised predictions (retention) are left out, and counted: their bands
are not the inputs that were billed.
"""

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseDriverError

from predictor.actuals import selectors as actuals_selectors
from predictor.security import access_log


class Command(BaseCommand):
    help = "Write the predictions with actual charges in the training file's columns (age,...,region,charges)."

    def add_arguments(self, parser):
        parser.add_argument("output", type=Path, help="Where to write the CSV file ('-' for standard output).")

    def handle(self, *args, output: Path, verbosity: int, **options):
        if str(output) != "-" and output.exists():
            raise CommandError(f"{output} exists already; give another file name.")
        # The access is recorded before any row is written (the rows are patients' data); the count is
        # corrected afterwards if another number was written.
        try:
            entry = access_log.access_log_record(
                command="export_training_data", action=access_log.Action.TRAINING_EXPORT,
                filters={"output": str(output)}, row_count=actuals_selectors.training_rows_count(),
            )
        except access_log.AccessLogUnavailable as exc:
            raise CommandError(f"{exc} Nothing was written.") from exc
        except DatabaseDriverError as exc:
            raise CommandError(f"The database did not answer: {exc} Nothing was written.") from exc
        written = [0]
        try:
            rows = actuals_selectors.training_rows()
            if str(output) == "-":
                self._write(rows, self.stdout, written)
            else:
                try:
                    with open(output, "x", encoding="utf-8", newline="") as handle:
                        self._write(rows, handle, written)
                except OSError as exc:
                    raise CommandError(f"{output} could not be written: {exc}") from exc
                if verbosity >= 1:
                    self.stderr.write(self.style.SUCCESS(f"{written[0]:,} rows with actual charges written to {output}"))
        finally:
            access_log.access_log_row_count_correct(entry=entry, row_count=written[0])
        left_out = actuals_selectors.training_rows_anonymised()
        if left_out and verbosity >= 1:
            self.stderr.write(f"{left_out:,} anonymised predictions with actual charges left out (their inputs are bands)")

    @staticmethod
    def _write(rows, handle, written: list[int]) -> None:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(actuals_selectors.TRAINING_COLUMNS)
        for row in rows:
            writer.writerow(row)
            written[0] += 1
