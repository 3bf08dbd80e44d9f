"""Print the model card of the served model (PREDICTOR_PIPELINE_PATH), after checking its hash."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from predictor import pipeline


class Command(BaseCommand):
    help = "Print the active model's card: name, metrics, data and artifact hashes, library versions."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the card as JSON.")

    def handle(self, *args, **options):
        try:
            sha256, card = pipeline.verify_artifact(settings.PREDICTOR_PIPELINE_PATH)
        except pipeline.ModelArtifactError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(card, indent=2))
            return
        cv, holdout = card["cv"], card["holdout"]
        lines = [
            f"model:        {card['name']} ({card['estimator']})",
            f"artifact:     {settings.PREDICTOR_PIPELINE_PATH}",
            f"sha256:       {sha256} (verified)",
            f"trained at:   {card['trained_at']} in {card['training_seconds']} s",
            f"data:         {card['data']['file']}, {card['data']['rows']} rows, sha256 {card['data']['sha256']}",
            f"features:     {', '.join(card['features'])}",
            f"CV:           R² {cv['r2']:.4f}  MAE ${cv['mae']:,.2f}  RMSE ${cv['rmse']:,.2f}",
            f"holdout:      R² {holdout['r2']:.4f}  MAE ${holdout['mae']:,.2f}  RMSE ${holdout['rmse']:,.2f}",
            (
                f"interval:     {1 - card['interval']['alpha']:.0%}, holdout coverage {holdout['interval_coverage']:.1%}, "
                f"mean width ${holdout['mean_interval_width']:,.0f}"
                if "interval" in card
                else "interval:     none (this model has no prediction interval)"
            ),
            "versions:     " + ", ".join(f"{k} {v}" for k, v in card["versions"].items()),
        ]
        self.stdout.write("\n".join(lines))
