"""Pause the service (EU AI Act Art. 14(4)(e), the stop): no prediction is made or stored anywhere until it is resumed.

    python manage.py serving_pause --reason "Investigating a drift alert" [--user jsmith]

Every server stops predicting within PREDICTOR_PAUSE_TTL seconds (at most 5): the public form and
the API's prediction routes answer 503 and store nothing; the history, monitoring and /healthz (200,
reporting the pause) keep answering. The pause is recorded with who, when and why. Pausing a paused
service changes nothing, says so, and exits with status 3. ``serving_resume`` resumes.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ...models import ServingChange
from ...oversight import services
from ._oversight import NOTHING_CHANGED, acting_user, reach_sentence, reason_problem


class Command(BaseCommand):
    help = "Pause the service: no prediction is made or stored until serving_resume (recorded with --reason)."

    def add_arguments(self, parser):
        parser.add_argument("--reason", required=True, help="Why the service is paused (required; kept in the record).")
        parser.add_argument("--user", help="The staff username to record as the one who paused it.")

    def handle(self, *args, reason: str, user: str | None, **options):
        try:
            toggle = services.serving_pause(reason=reason, user=acting_user(user), channel=ServingChange.Channel.COMMAND)
        except ValidationError as exc:
            raise CommandError(reason_problem(exc)) from exc
        if not toggle.changed:
            latest = toggle.record
            raise CommandError(
                f"The service is already paused (since {latest.created_at:%Y-%m-%d %H:%M:%S} UTC"
                f"{', by ' + latest.username if latest.username else ''}: {latest.reason}); nothing changed.",
                returncode=NOTHING_CHANGED,
            )
        self.stdout.write(self.style.SUCCESS("The service is paused") + f": {toggle.record.reason}. " + reach_sentence())
