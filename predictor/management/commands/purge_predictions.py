"""Apply the retention of patients' inputs: anonymise or delete the predictions older than N days.

    python manage.py purge_predictions                      # PREDICTOR_RETENTION_DAYS and _ACTION
    python manage.py purge_predictions --older-than 365 --delete --dry-run

Without ``--older-than`` it uses ``PREDICTOR_RETENTION_DAYS``; when that is not set it says that
inputs are kept forever and changes nothing (exit 0), so the daily scheduled task is harmless.
Without ``--anonymise`` or ``--delete`` it does ``PREDICTOR_RETENTION_ACTION`` (default anonymise).
It works in batches, each its own short transaction (``--batch-size``), with a progress bar on
stderr; ``--dry-run`` counts what it would do and changes nothing. A second run changes nothing.
What anonymising keeps and what it replaces: ``predictor.retention``.
"""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from predictor import retention


def _predictions(count: int) -> str:
    return f"{count:,} prediction{'' if count == 1 else 's'}"


def _whole_number(text: str, *, option: str, low: int, high: int) -> int:
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise CommandError(f"{option} must be a whole number from {low:,} to {high:,}, not {text!r}.")
    return int(value)


class Command(BaseCommand):
    help = (
        "Anonymise (inputs replaced by coarse bands, charges kept) or delete the predictions older than "
        "--older-than days (default PREDICTOR_RETENTION_DAYS), in short batches; --dry-run only counts."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", metavar="DAYS",
            help="Predictions made more than DAYS × 24 hours ago (default: PREDICTOR_RETENTION_DAYS; unset: keep all).",
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--anonymise", dest="action", action="store_const", const="anonymise",
                            help="Replace age, BMI and children by bands and the time by its day; keep the charges.")
        action.add_argument("--delete", dest="action", action="store_const", const="delete",
                            help="Delete the predictions and their actual-charge audit trail.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; change nothing.")
        parser.add_argument(
            "--batch-size", metavar="N", default=str(retention.DEFAULT_BATCH_SIZE),
            help=f"Rows per transaction (default {retention.DEFAULT_BATCH_SIZE:,}, at most {retention.MAX_BATCH_SIZE:,}).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Do not show the progress bar.")

    def handle(self, *args, **options):
        batch_size = _whole_number(str(options["batch_size"]), option="--batch-size", low=1, high=retention.MAX_BATCH_SIZE)
        action = options["action"] or settings.PREDICTOR_RETENTION_ACTION
        if options["older_than"] is None:
            days = settings.PREDICTOR_RETENTION_DAYS
            if days is None:
                self.stdout.write(
                    "Retention is keep: PREDICTOR_RETENTION_DAYS is not set, so inputs are kept forever. "
                    "Nothing changed."
                )
                return
        else:
            days = _whole_number(str(options["older_than"]), option="--older-than", low=1, high=settings.RETENTION_MAX_DAYS)
        cutoff = retention.retention_cutoff(days=days)
        when = f"made before {cutoff:%Y-%m-%d %H:%M:%S} UTC (older than {days:,} day{'s' if days != 1 else ''})"
        verb = {"anonymise": "anonymised", "delete": "deleted"}[action]
        plan = retention.retention_plan(action=action, cutoff=cutoff)
        if options["dry_run"]:
            self.stdout.write(f"Dry run: {_predictions(plan.predictions)} {when} would be {verb}" + self._extra(plan) + ".")
            if plan.predictions:
                self.stdout.write(f"Their ids run from {plan.first_id} to {plan.last_id}. Nothing changed.")
            else:
                self.stdout.write("Nothing changed.")
            return
        if not plan.predictions:
            self.stdout.write(f"0 predictions {when} to be {verb}: nothing changed.")
            return
        show = not options["no_progress"] and options["verbosity"] >= 1
        started = time.perf_counter()
        with tqdm(total=plan.predictions, desc={"anonymise": "anonymising", "delete": "deleting"}[action], unit=" rows", file=self.stderr, disable=not show) as bar:
            outcome = retention.retention_apply(
                action=action, cutoff=cutoff, batch_size=batch_size, progress=bar.update, plan=plan
            )
        seconds = time.perf_counter() - started
        if not outcome.predictions:
            self.stdout.write(f"0 predictions {when} to be {verb}: nothing changed.")
            return
        self.stdout.write(
            f"{_predictions(outcome.predictions)} {when} {verb}" + self._extra(outcome)
            + f", in {outcome.transactions:,} transaction{'s' if outcome.transactions != 1 else ''} of at most "
            f"{batch_size:,} rows (the longest {outcome.longest_transaction:.3f} s; {seconds:.1f} s in all)."
        )

    @staticmethod
    def _extra(result) -> str:
        if result.action != "delete":
            return ""
        text = (
            f", with {result.actual_changes:,} changes of their actual charges (the audit trail); "
            f"{result.batches_emptied:,} batch{'es' if result.batches_emptied != 1 else ''} left without predictions "
            f"{'would be ' if isinstance(result, retention.Plan) else ''}deleted"
        )
        for label, count in getattr(result, "other_deleted", {}).items():
            text += f"; {count:,} {label}"
        return text
