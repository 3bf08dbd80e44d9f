"""Resume a paused service: predictions are made and stored again everywhere.

    python manage.py serving_resume [--reason "Drift explained"] [--user jsmith]

Every server predicts again within PREDICTOR_PAUSE_TTL seconds (at most 5). The resume is recorded
with who, when and why. Resuming a running service changes nothing, says so, and exits with status 3.
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from ...models import ServingChange
from ...oversight import services
from ._oversight import NOTHING_CHANGED, acting_user, reach_sentence, reason_problem


class Command(BaseCommand):
    help = "Resume the service after serving_pause (recorded, with an optional --reason)."

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="", help="Why the service is resumed (kept in the record).")
        parser.add_argument("--user", help="The staff username to record as the one who resumed it.")

    def handle(self, *args, reason: str, user: str | None, **options):
        try:
            toggle = services.serving_resume(reason=reason, user=acting_user(user), channel=ServingChange.Channel.COMMAND)
        except ValidationError as exc:
            raise CommandError(reason_problem(exc)) from exc
        if not toggle.changed:
            raise CommandError("The service is already running; nothing changed.", returncode=NOTHING_CHANGED)
        self.stdout.write(self.style.SUCCESS("The service is resumed") + ". " + reach_sentence())
