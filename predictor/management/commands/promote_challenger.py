"""Make the challenger the champion, only when the comparison's verdict allows it.

    python manage.py promote_challenger --user jsmith --reason "lower MAE on 2026 actuals"
    python manage.py promote_challenger --force --reason "champion withdrawn: see incident 42"

The comparison (``compare_models``) is made first and printed; on "better" or "not worse" the
challenger becomes the active version and the change is recorded (channel "promotion", who, the
reason, and the comparison's figures as its evidence). On "worse" or "not enough evidence" it is
refused, saying why, and nothing changes. ``--force`` overrides the verdict (or a comparison that
cannot be made) and needs ``--reason``; the change is then recorded as forced.

Exit status: 0 promoted; 1 refused ("worse", or a refusal by the serving step); 3 refused for
"not enough evidence"; 2 when there is nothing to promote or compare (no challenger, no actual
charges), or a bad option.
"""

import sys

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor.changes import services
from predictor.management.commands.compare_models import CANNOT_COMPARE, EXIT_CODES, comparison_lines
from predictor.ml.artifacts import ModelArtifactError
from predictor.security import access_log
from predictor.security.permissions import MODEL_CHANGE_PERMISSION, staff_with


class Command(BaseCommand):
    help = "Promote the challenger to champion on a \"better\" or \"not worse\" verdict (--force needs --reason)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Promote whatever the verdict (needs --reason).")
        parser.add_argument("--reason", default="", help="Why; recorded with the change (required with --force).")
        parser.add_argument("--user", help="The staff username to record as the one who promoted it.")

    def handle(self, *args, force: bool, reason: str, user: str | None, **options):
        if force and not reason.strip():
            raise CommandError("--force needs --reason TEXT: a forced promotion is recorded with its reason. Nothing changed.",
                               returncode=CANNOT_COMPARE)
        promoter = None
        if user:
            model = get_user_model()
            promoter = model.objects.filter(**{model.USERNAME_FIELD: user}).first()
            if promoter is None:
                raise CommandError(f"There is no user {user!r}. Nothing changed.", returncode=CANNOT_COMPARE)
            if not staff_with(promoter, MODEL_CHANGE_PERMISSION):
                raise CommandError(
                    f"{user!r} is not active staff with the permission to change the serving model. Nothing changed.",
                    returncode=CANNOT_COMPARE,
                )
        try:
            promotion = services.challenger_promote(user=promoter, reason=reason, force=force, command="promote_challenger")
        except services.PromotionRefused as exc:
            if exc.comparison is not None:
                self.stdout.write("\n".join(comparison_lines(exc.comparison.figures)))
                self.stderr.write(str(exc))
                sys.exit(EXIT_CODES[exc.comparison.verdict])
            raise CommandError(str(exc), returncode=CANNOT_COMPARE) from exc
        except (services.ComparisonUnavailable, access_log.AccessLogUnavailable) as exc:
            raise CommandError(str(exc), returncode=CANNOT_COMPARE) from exc
        except (ModelArtifactError, ValidationError) as exc:
            raise CommandError(f"The challenger was not promoted: {exc} Nothing changed.", returncode=1) from exc
        except DatabaseError as exc:
            raise CommandError(f"The database refused the change: {exc} Nothing changed.", returncode=CANNOT_COMPARE) from exc
        if promotion.comparison is not None:
            self.stdout.write("\n".join(comparison_lines(promotion.comparison.figures)))
        forced = " (forced, overriding the rule)" if promotion.forced else ""
        previous = promotion.previous.name if promotion.previous else "none"
        self.stdout.write(self.style.SUCCESS(f"{promotion.version.name} is now the champion{forced}; it replaced {previous}."))
