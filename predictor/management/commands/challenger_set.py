"""Make a trained model version the challenger: scored on the stored predictions beside the champion.

    python manage.py challenger_set huber-blend-v1 [--user USERNAME] [--reason TEXT]

The artifact NAME.pkl (in the folder of PREDICTOR_PIPELINE_PATH) is verified against its card
first. At most one version is the challenger: setting another replaces it. The active version
(the champion) cannot be the challenger. A version below the floor may be the challenger (its
answers count against it in the comparison); it still cannot become the champion. Each change is
recorded (ModelChange, channel "command") with who and why. Then ``manage.py challenger_score``
scores the stored predictions.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import selectors, serving
from predictor.management.model_changes import change_by
from predictor.ml.artifacts import ModelArtifactError


class Command(BaseCommand):
    help = "Make a trained model version (NAME.pkl beside the default artifact) the challenger."

    def add_arguments(self, parser):
        parser.add_argument("name", help="The model version to compare with the champion, e.g. huber-blend-v1.")
        parser.add_argument("--user", help="The username of who decides the change (recorded with it).")
        parser.add_argument("--reason", default="", help="Why this version is the challenger (recorded with it).")

    def handle(self, *args, name: str, user: str | None, reason: str, **options):
        by = change_by(user=user, reason=reason)
        try:
            before = selectors.model_version_challenger()
            version = serving.model_version_challenger_set(name=name, by=by)
        except ModelArtifactError as exc:
            raise CommandError(f"{exc} Nothing changed.") from exc
        except DatabaseError as exc:
            raise CommandError(f"the database refused the change: {exc}") from exc
        if before is not None and before.pk == version.pk:
            self.stdout.write(f"{version.name} is the challenger already; nothing changed")
            return
        replaced = f" (in place of {before.name})" if before is not None else ""
        self.stdout.write(self.style.SUCCESS(f"{version.name} is now the challenger{replaced}"))
        self.stdout.write("Score the stored predictions with `python manage.py challenger_score`.")
