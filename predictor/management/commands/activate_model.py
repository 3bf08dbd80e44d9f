"""Make a trained model the one that serves predictions.

    python manage.py activate_model huber-blend-v1 [--user USERNAME] [--reason TEXT]
    python manage.py activate_model --list
    python manage.py activate_model --if-none-active

The artifact NAME.pkl (in the folder of PREDICTOR_PIPELINE_PATH) is verified against its
card before it is activated. Predictions already stored keep the version that made them;
running servers switch within PREDICTOR_ACTIVE_MODEL_TTL seconds. ``--if-none-active`` is the
start-up step (``make run``, the container's start): it activates the default artifact only
when no version is active yet, and says what it did.

Every change is recorded (ModelChange, channel "command"): who (``--user``, a staff account) and
why (``--reason``); a rollback to an earlier version is a change like any other. Refused, with
nothing changed: a version that answers below $0 somewhere on the floor's grid, and the current
challenger (it becomes the champion only through ``promote_challenger``).
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import serving
from predictor.management.model_changes import change_by
from predictor.ml.artifacts import ModelArtifactError, artifact_path_for, artifacts_folder
from predictor.models import ModelVersion


class Command(BaseCommand):
    help = "Activate a trained model version (NAME.pkl beside the default artifact), or list the versions."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="The model version to serve, e.g. huber-blend-v1.")
        parser.add_argument("--list", action="store_true", help="List the artifacts and registered versions.")
        parser.add_argument(
            "--if-none-active",
            action="store_true",
            help="Activate the default artifact (PREDICTOR_PIPELINE_PATH) only if no version is active (the start-up step).",
        )
        parser.add_argument("--user", help="The username of who decides the change (recorded with it).")
        parser.add_argument("--reason", default="", help="Why the version changes (recorded with it).")

    def handle(self, *args, name: str | None, **options):
        if options["if_none_active"] and name:
            raise CommandError("Give a NAME or --if-none-active, not both.")
        if (options["user"] or options["reason"]) and not name:
            raise CommandError("--user and --reason go with a NAME to activate.")
        if options["list"] or not (name or options["if_none_active"]):
            return self._list()
        try:
            if options["if_none_active"]:
                version, activated = serving.model_version_activate_if_none()
                if not activated:
                    self.stdout.write(f"{version.name} is the active model; nothing changed")
                    return
                self.stdout.write("No model version was active: ", ending="")
            else:
                by = change_by(user=options["user"], reason=options["reason"])
                version = serving.model_version_activate(name=name, by=by)
        except ModelArtifactError as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(f"the database refused the change: {exc}") from exc
        holdout = version.metrics.get("holdout", {})
        self.stdout.write(
            self.style.SUCCESS(f"{version.name} is now the active model")
            + f" (holdout R² {holdout.get('r2')}, MAE ${holdout.get('mae')})"
        )

    def _list(self) -> None:
        registered = {version.name: version for version in ModelVersion.objects.all()}
        names = sorted({path.stem for path in artifacts_folder().glob("*.pkl")} | set(registered))
        for name in names:
            version = registered.get(name)
            state = "active" if version and version.active else ("registered" if version else "not yet served")
            on_disk = "" if artifact_path_for(name).is_file() else " (artifact missing)"
            self.stdout.write(f"{name:30} {state}{on_disk}")
