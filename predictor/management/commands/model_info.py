"""Print a model's card after checking its artifact's hash: the active version's, or ``--name``'s.

    python manage.py model_info
    python manage.py model_info --name tutorial-lr-v1 --json
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from predictor import selectors
from predictor.ml.artifacts import ModelArtifactError, artifact_path_for, verify_artifact


class Command(BaseCommand):
    help = "Print the active model's card (or --name's): name, metrics, data and artifact hashes, library versions."

    def add_arguments(self, parser):
        parser.add_argument("--name", help="Another model version (NAME.pkl beside the default artifact).")
        parser.add_argument("--json", action="store_true", help="Print the card as JSON.")

    def handle(self, *args, name: str | None, **options):
        requested = name
        if name is None:
            try:
                active = selectors.model_version_active()
            except DatabaseError as exc:
                raise CommandError(f"the active version could not be read ({exc}); give --name NAME") from exc
            if active is None:
                raise CommandError(
                    "No model version is active: give --name NAME, or activate one with `manage.py activate_model NAME`."
                )
            name = active.name
        path = artifact_path_for(name)
        try:
            sha256, card = verify_artifact(path)
        except ModelArtifactError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(card, indent=2))
            return
        cv, holdout = card["cv"], card["holdout"]
        lines = [
            f"model:        {card['name']} ({card['estimator']})" + ("" if requested else ", the active version"),
            f"artifact:     {path}",
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
        if "cohort_calibration" in card:
            sizes = card["cohort_calibration"]
            lines.insert(-1, "forecast:     " + "; ".join(
                f"cohorts of {size}: 90% range held {figures['coverage_90']:.1%}, 50% range {figures['coverage_50']:.1%}, "
                f"mean error {figures['mean_total_error']:+.1%}" for size, figures in sizes.items()
            ) + f" ({next(iter(sizes.values()))['repetitions']} random 70/30 splits)")
        if "interval_calibration" in card:
            repeated = card["interval_calibration"]
            lines.insert(-1, f"interval over {repeated['repetitions']} splits: " + ", ".join(
                f"{group} {figures['coverage']:.1%}" for group, figures in repeated["groups"].items()
            ))
        if "fairness" in card:
            fairness = card["fairness"]
            lines.insert(-1, f"fairness:     {fairness['rows']['count']:,} out-of-fold rows; MAE by sex " + ", ".join(
                f"{row['group']} ${row['mae']['value']:,.2f}" for row in fairness["groups"] if row["dimension"] == "sex"
            ) + f"; without sex {fairness['variants']['unaware']['difference']['mean']:+,.2f} $ |error|; "
                f"leakage AUC {fairness['leakage']['auc']:.3f} (model_info --json shows every group)")
        self.stdout.write("\n".join(lines))
