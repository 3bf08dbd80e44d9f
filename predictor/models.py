"""What the predictor stores: the models that answered and every prediction they made."""

from django.db import models
from django.utils import timezone


class ModelVersion(models.Model):
    """One trained pipeline artifact, registered the first time the app serves it.

    Fields: ``name`` from the model card, ``sha256`` of the artifact file,
    ``metrics`` (cross-validated and holdout R², MAE, RMSE), the whole ``card``,
    ``trained_at``, and ``active`` (at most one row is active).
    """

    name = models.CharField(max_length=100, unique=True)
    sha256 = models.CharField("SHA-256", max_length=64)
    metrics = models.JSONField(default=dict)
    card = models.JSONField(default=dict)
    trained_at = models.DateTimeField()
    active = models.BooleanField(default=False)
    registered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-trained_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="predictor_one_active_model_version"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Prediction(models.Model):
    """One submitted patient and the yearly charge the model predicted for them.

    The six inputs are typed columns (choices stored as lower-case words), the
    charge is in dollars with cents, ``model_version`` is the model that answered
    and ``source`` is where the request came from. Rows are never changed.
    """

    class Sex(models.TextChoices):
        FEMALE = "female", "Female"
        MALE = "male", "Male"

    class Smoker(models.TextChoices):
        YES = "yes", "Yes"
        NO = "no", "No"

    class Region(models.TextChoices):
        NORTHEAST = "northeast", "Northeast"
        NORTHWEST = "northwest", "Northwest"
        SOUTHEAST = "southeast", "Southeast"
        SOUTHWEST = "southwest", "Southwest"

    class Source(models.TextChoices):
        WEB = "web", "Web form"
        API = "api", "API"
        BATCH = "batch", "Batch file"
        SHELL = "shell", "Shell or command"

    age = models.PositiveSmallIntegerField()
    sex = models.CharField(max_length=6, choices=Sex.choices)
    bmi = models.FloatField("BMI")
    children = models.PositiveSmallIntegerField()
    smoker = models.CharField(max_length=3, choices=Smoker.choices)
    region = models.CharField(max_length=9, choices=Region.choices)
    predicted_charges = models.DecimalField(max_digits=12, decimal_places=2)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    source = models.CharField(max_length=5, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The admin's default ordering and its date hierarchy read newest first.
            models.Index(fields=["-created_at", "-id"], name="predictor_prediction_recent"),
        ]

    def __str__(self) -> str:
        return f"Prediction {self.pk}: ${self.predicted_charges:,}"
