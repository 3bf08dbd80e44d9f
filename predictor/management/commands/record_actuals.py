"""Record the actual charges billed against stored predictions, from a CSV file.

    python manage.py record_actuals billed-2026.csv --user jsmith

The file's header names the columns ``prediction_id`` and ``actual_charges`` (any order; other
columns are ignored); each further line is one prediction and the yearly amount billed, in
dollars from 0 to 1,000,000. A file with any bad line (a bad amount, an unknown id, an id given
twice) is rejected whole, listing each problem with its line number, and nothing is stored.
Recording the value a prediction already has changes nothing, so running the same file again
changes nothing. Each change records who (``--user``, a staff username) and when, and keeps the
previous value in the audit trail. No row limit.
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import csv_io
from predictor.actuals.files import actuals_csv_read, actuals_file_record
from predictor.models import ActualChargeChange


class Command(BaseCommand):
    help = "Record actual charges from a CSV file with the columns prediction_id,actual_charges (all rows or none)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The CSV file of actual charges.")
        parser.add_argument("--user", help="The staff username to record as the one who recorded them.")

    def handle(self, *args, file: Path, user: str | None, verbosity: int, **options):
        if not file.is_file():
            raise CommandError(f"{file} is not a file.")
        recorder = None
        if user:
            model = get_user_model()
            recorder = model.objects.filter(**{model.USERNAME_FIELD: user}).first()
            if recorder is None:
                raise CommandError(f"There is no user {user!r}.")
            if not (recorder.is_active and recorder.is_staff):
                raise CommandError(f"{user!r} is not an active staff user; only staff record actual charges.")
        try:
            with open(file, encoding="utf-8-sig", newline="") as handle:
                table = actuals_csv_read(handle)
            result = actuals_file_record(
                table=table, recorded_by=recorder, channel=ActualChargeChange.Channel.COMMAND
            )
        except UnicodeDecodeError as exc:
            raise CommandError(f"{file} was not recorded (nothing stored): it is not UTF-8 text.") from exc
        except csv_io.CsvFileError as exc:
            count = f"{exc.bad_rows:,} bad line{'s' if exc.bad_rows != 1 else ''}; " if exc.bad_rows else ""
            raise CommandError(f"{file} was not recorded ({count}nothing stored):\n" + "\n".join(exc.problems)) from exc
        except DatabaseError as exc:
            raise CommandError(f"{file} was not recorded, nothing stored: the database is not available ({exc}).") from exc
        if verbosity >= 1:
            self.stdout.write(
                self.style.SUCCESS(f"{result.rows:,} rows read from {file}")
                + f": {result.changed:,} actual charges recorded or changed, {result.unchanged:,} already had that value."
            )
