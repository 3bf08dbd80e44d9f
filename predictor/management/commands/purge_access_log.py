"""Delete the staff access log's entries older than the retention period, in batches.

    python manage.py purge_access_log                      # older than PREDICTOR_ACCESS_LOG_RETENTION_DAYS (2190)
    python manage.py purge_access_log --older-than 3000 --dry-run

Each batch is its own short transaction, so a purge of millions of rows holds no long lock and
stops cleanly where it got to if interrupted (run it again to finish).
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import Error as DatabaseDriverError

from predictor.security import access_log


def positive_number(text: str) -> int:
    if not text.strip().isdecimal() or int(text) < 1:
        raise ValueError(text)
    return int(text)


positive_number.__name__ = "positive whole number"  # argparse says: invalid positive whole number value


class Command(BaseCommand):
    help = "Delete access log entries older than --older-than days (default PREDICTOR_ACCESS_LOG_RETENTION_DAYS)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than", type=positive_number, metavar="DAYS",
            help=f"Delete entries made more than DAYS days ago (default {settings.PREDICTOR_ACCESS_LOG_RETENTION_DAYS}).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Say how many would be deleted; delete nothing.")
        parser.add_argument(
            "--batch-size", type=positive_number, default=access_log.PURGE_BATCH_SIZE, metavar="N",
            help=f"Entries deleted per transaction (default {access_log.PURGE_BATCH_SIZE:,}).",
        )

    def handle(self, *args, older_than: int | None, dry_run: bool, batch_size: int, **options):
        days = older_than or settings.PREDICTOR_ACCESS_LOG_RETENTION_DAYS
        before = access_log.access_log_cutoff(older_than_days=days)
        try:
            count = access_log.access_log_purge(before=before, batch_size=batch_size, dry_run=dry_run)
        except DatabaseDriverError as exc:
            raise CommandError(f"The access log could not be purged: {exc}") from exc
        when = f"made before {before:%Y-%m-%d %H:%M:%S} UTC (older than {days:,} days)"
        noun = "entry" if count == 1 else "entries"
        if dry_run:
            self.stdout.write(f"Would delete {count:,} access log {noun} {when}; nothing deleted (dry run).")
        else:
            self.stdout.write(self.style.SUCCESS(f"Deleted {count:,} access log {noun} {when}, in batches of {batch_size:,}."))
