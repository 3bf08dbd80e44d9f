"""Clear the challenger: no version is scored beside the champion any more.

    python manage.py challenger_clear [--user USERNAME] [--reason TEXT]

Its stored scores stay (a comparison of that version can still be read). The change is recorded
(ModelChange, channel "command") with who and why; with no challenger, nothing changes or is
recorded, and the command exits 1 saying so.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import serving
from predictor.management.model_changes import change_by


class Command(BaseCommand):
    help = "Clear the challenger (its scores are kept; the change is recorded)."

    def add_arguments(self, parser):
        parser.add_argument("--user", help="The username of who decides the change (recorded with it).")
        parser.add_argument("--reason", default="", help="Why the challenger is cleared (recorded with it).")

    def handle(self, *args, user: str | None, reason: str, **options):
        by = change_by(user=user, reason=reason)
        try:
            before = serving.model_version_challenger_clear(by=by)
        except DatabaseError as exc:
            raise CommandError(f"the database refused the change: {exc}") from exc
        if before is None:
            raise CommandError("There is no challenger to clear; nothing changed.")
        self.stdout.write(self.style.SUCCESS(f"{before.name} is no longer the challenger"))
