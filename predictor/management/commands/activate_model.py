"""Make a trained model the one that serves predictions.

    python manage.py activate_model huber-blend-v1
    python manage.py activate_model --list

The artifact NAME.pkl (in the folder of PREDICTOR_PIPELINE_PATH) is verified against its
card before it is activated. Predictions already stored keep the version that made them;
running servers switch within PREDICTOR_ACTIVE_MODEL_TTL seconds.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import pipeline, services
from predictor.models import ModelVersion


class Command(BaseCommand):
    help = "Activate a trained model version (NAME.pkl beside the default artifact), or list the versions."

    def add_arguments(self, parser):
        parser.add_argument("name", nargs="?", help="The model version to serve, e.g. huber-blend-v1.")
        parser.add_argument("--list", action="store_true", help="List the artifacts and registered versions.")

    def handle(self, *args, name: str | None, **options):
        if options["list"] or not name:
            return self._list()
        try:
            version = services.model_version_activate(name=name)
        except pipeline.ModelArtifactError as exc:
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
        folder = pipeline.artifact_path_for("x").parent
        names = sorted({path.stem for path in folder.glob("*.pkl")} | set(registered))
        for name in names:
            version = registered.get(name)
            state = "active" if version and version.active else ("registered" if version else "not yet served")
            on_disk = "" if pipeline.artifact_path_for(name).is_file() else " (artifact missing)"
            self.stdout.write(f"{name:30} {state}{on_disk}")
