"""Predict and store one patient's yearly charges from the command line.

    python manage.py predict --age 19 --sex female --bmi 27.9 --children 0 --smoker yes --region southwest

Same validation and messages as the web form; the row is stored with source "shell".
"""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from predictor import explanations, services
from predictor.forms import PredictionForm
from predictor.models import Prediction


class Command(BaseCommand):
    help = "Predict one patient's yearly insurance charges, store the prediction and print it."

    def add_arguments(self, parser):
        for name, field in PredictionForm.base_fields.items():
            parser.add_argument(f"--{name}", required=True, help=str(field.label))

    def handle(self, *args, **options):
        inputs = {name: options[name] for name in PredictionForm.base_fields}
        try:
            prediction = services.prediction_create(**inputs, source=Prediction.Source.SHELL)
        except ValidationError as exc:
            problems = "\n".join(f"  --{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
            raise CommandError(f"invalid input:\n{problems}") from exc
        except services.PredictionUnavailable as exc:
            raise CommandError(f"no prediction stored: {exc}") from exc
        extrapolated = explanations.prediction_extrapolated(prediction)
        self.stdout.write(
            self.style.SUCCESS(f"${prediction.predicted_charges:,} a year")
            + f" (prediction {prediction.pk}, model {prediction.model_version.name})"
        )
        if extrapolated:
            self.stdout.write(
                self.style.WARNING(
                    f"extrapolation: {', '.join(extrapolated)} outside the range the model was trained on"
                )
            )
