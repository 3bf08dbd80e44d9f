"""Test data: stored rows, and raw inputs across everything the form accepts."""

import random
from decimal import Decimal

import factory
from django.utils import timezone

from predictor.forms import LIMITS
from predictor.models import ChallengerScore, ModelVersion, Prediction


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    name = factory.Sequence(lambda n: f"test-model-{n}")
    sha256 = factory.Faker("sha256")
    metrics = factory.LazyFunction(lambda: {"cv": {"r2": 0.8, "mae": 3000.0, "rmse": 5000.0}, "holdout": {"r2": 0.85, "mae": 2800.0, "rmse": 4500.0}})
    card = factory.LazyFunction(lambda: {"training_ranges": {"age": [18, 64], "bmi": [15.96, 53.13], "children": [0, 5]}})
    trained_at = factory.LazyFunction(timezone.now)
    active = False


class PredictionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prediction

    age = factory.Faker("pyint", min_value=18, max_value=64)
    sex = factory.Iterator(Prediction.Sex.values)
    bmi = factory.Faker("pyfloat", min_value=16, max_value=53, right_digits=2)
    children = factory.Faker("pyint", min_value=0, max_value=5)
    smoker = factory.Iterator(Prediction.Smoker.values)
    region = factory.Iterator(Prediction.Region.values)
    predicted_charges = factory.LazyFunction(lambda: Decimal("12345.67"))
    model_version = factory.SubFactory(ModelVersionFactory)
    source = Prediction.Source.WEB


class ChallengerScoreFactory(factory.django.DjangoModelFactory):
    """A version's answer for a stored prediction, as ``manage.py challenger_score`` writes it."""

    class Meta:
        model = ChallengerScore

    prediction = factory.SubFactory(PredictionFactory)
    model_version = factory.SubFactory(ModelVersionFactory)
    charges = factory.LazyFunction(lambda: Decimal("12000.00"))


def random_valid_rows(count: int, seed: int) -> list[dict]:
    """Inputs across everything the form accepts, extrapolations included."""
    rng = random.Random(seed)
    return [
        {
            "age": rng.randint(*LIMITS["age"]),
            "sex": rng.choice(Prediction.Sex.values),
            "bmi": round(rng.uniform(*LIMITS["bmi"]), rng.choice([0, 1, 2, 3, 6])),
            "children": rng.randint(*LIMITS["children"]),
            "smoker": rng.choice(Prediction.Smoker.values),
            "region": rng.choice(Prediction.Region.values),
        }
        for _ in range(count)
    ]
