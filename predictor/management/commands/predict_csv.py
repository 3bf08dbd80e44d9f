"""Score a CSV file of patients: the same file back with a ``predicted_charges`` column.

    python manage.py predict_csv members.csv members-predicted.csv

The file needs a header naming the columns age, sex, bmi, children, smoker and region
(any order; other columns are kept). Every row is checked like the web form; a file
with any bad row is rejected whole, listing each problem with its line number, and
nothing is stored. Otherwise the rows are stored as one Batch (source "batch") with
PostgreSQL's COPY, checked, predicted and stored as columns, and OUT.csv is written. No row
limit: the file is read, checked, predicted, stored and written --chunk-rows rows at a time
(50,000) in one transaction, so memory does not grow with it (see docs/performance.md).

The output is written as the rows are stored, to a temporary file beside OUT.csv that is renamed
into place only once the batch is committed; a file that fails leaves OUT.csv as it was. With
'-' the rows go to a temporary file too and reach standard output only after the commit, so a
pipe never receives part of a file that was not stored.
"""

import os
import shutil
import tempfile
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
        parser.add_argument("--chunk-rows", type=int, default=csv_io.CHUNK_ROWS,
                            help=f"Rows read, checked and stored at a time (default {csv_io.CHUNK_ROWS:,}).")

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
        if options["chunk_rows"] < 1:
            raise CommandError("--chunk-rows must be at least 1.")
        show = not options["no_progress"] and options["verbosity"] >= 1
        started = time.perf_counter()
        bars: dict[str, tqdm] = {}

        def progress(stage: str, done: int) -> None:
            if not show:
                return
            if stage not in bars:  # no total: the file's length is known only once it has been read
                bars[stage] = tqdm(desc=STAGES[stage], unit=" rows", file=self.stderr, leave=True)
            bars[stage].update(done - bars[stage].n)

        to_stdout = str(target) == "-"
        # The rows are written as they are stored, to a file that becomes the answer only after the commit.
        if to_stdout:
            spool = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")
        else:
            spool = tempfile.NamedTemporaryFile(
                "w", encoding="utf-8", newline="", dir=target.resolve().parent, prefix=f".{target.name}.", delete=False
            )
        try:
            with spool, open(source, encoding="utf-8-sig", newline="") as handle:
                chunks = csv_io.csv_chunks(handle, kind=batch_files.PATIENTS, size=options["chunk_rows"])
                scored = batch_files.batch_score_chunks(
                    chunks=chunks, file_name=source.name, created_by=user, out=spool, progress=progress
                )
                for bar in bars.values():
                    bar.close()
                if to_stdout:
                    spool.seek(0)
                    shutil.copyfileobj(spool, self.stdout)
                else:
                    spool.close()
                    os.chmod(spool.name, 0o666 & ~_umask())
                    os.replace(spool.name, target)
        except csv_io.CsvFileError as exc:
            count = f"{exc.bad_rows:,} bad row{'s' if exc.bad_rows != 1 else ''}; " if exc.bad_rows else ""
            raise CommandError(f"{source} was not scored ({count}nothing stored):\n" + "\n".join(exc.problems)) from exc
        except services.PredictionUnavailable as exc:
            raise CommandError(f"{source} was not scored, nothing stored: {exc}") from exc
        finally:
            for bar in bars.values():
                bar.close()
            if not to_stdout and os.path.exists(spool.name):
                os.unlink(spool.name)
        if options["verbosity"] >= 1:
            self.stderr.write(
                self.style.SUCCESS(f"{scored.row_count:,} rows scored")
                + f" as batch {scored.pk} in {time.perf_counter() - started:.1f} s"
                + ("" if to_stdout else f"; written to {target}")
            )


def _umask() -> int:
    # The mode open() would have given the file: the temporary one is made private.
    mask = os.umask(0)
    os.umask(mask)
    return mask
