"""What the model answered: the versions that serve, the files scored, every prediction and its actual charges."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ModelVersion(models.Model):
    """One trained pipeline artifact, registered the first time the app serves it.

    Fields: ``name`` from the model card, ``sha256`` of the artifact file,
    ``metrics`` (cross-validated and holdout R², MAE, RMSE), the whole ``card``,
    ``trained_at``, ``active`` (at most one row is active: the champion, which serves) and
    ``challenger`` (at most one row: the version compared with the champion on stored predictions,
    never also active). Which version is active or the challenger changes only through
    ``predictor.serving``, which records each change in ``ModelChange``.
    """

    name = models.CharField(max_length=100, unique=True)
    sha256 = models.CharField("SHA-256", max_length=64)
    metrics = models.JSONField(default=dict)
    card = models.JSONField(default=dict)
    trained_at = models.DateTimeField()
    active = models.BooleanField(default=False)
    challenger = models.BooleanField(default=False)
    registered_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-trained_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="predictor_one_active_model_version"
            ),
            models.UniqueConstraint(
                fields=["challenger"], condition=models.Q(challenger=True), name="predictor_one_challenger_model_version"
            ),
            models.CheckConstraint(
                condition=~models.Q(active=True, challenger=True), name="predictor_champion_is_not_the_challenger"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Batch(models.Model):
    """One CSV file of patients scored at once, from the staff page or ``manage.py predict_csv``.

    Fields: ``file_name`` as uploaded, ``row_count`` (the predictions it holds),
    ``created_by`` (the staff user; empty for the command line unless it names one)
    and ``created_at``. Its rows are the predictions whose ``batch`` is this record.
    """

    file_name = models.CharField(max_length=255)
    row_count = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"Batch {self.pk}: {self.file_name} ({self.row_count:,} rows)"


class Prediction(models.Model):
    """One submitted patient and the yearly charge the model predicted for them.

    The six inputs are typed columns (choices stored as lower-case words), the
    charge is in dollars with cents (with the model's 90% interval when it has one), ``model_version`` is the model that answered
    and ``source`` is where the request came from; ``batch`` is the CSV file a
    row was scored from, if any. The charge and its interval are never changed; the inputs only by
    retention (below).

    ``actual_charges`` is what was billed for the year, recorded later by staff: the one field
    that may be set after the row is stored, only through ``predictor.actuals``, which records
    who set it and when (``actual_recorded_by``, ``actual_recorded_at``) and keeps every change
    in ``ActualChargeChange``.

    ``anonymised_at`` is set when the retention job (``manage.py purge_predictions``) replaced an
    old row's age, BMI and children by coarse bands and its time by the day; its charges stay.
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
    # The model's 90% prediction interval, when the model has one.
    predicted_charges_low = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    predicted_charges_high = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.PROTECT, related_name="predictions")
    source = models.CharField(max_length=5, choices=Source.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Set for rows scored from a CSV file (source "batch"); empty otherwise.
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="predictions")
    # The yearly amount actually billed, set by staff afterwards (predictor.actuals); empty until then.
    actual_charges = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    actual_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actual_recorded_at = models.DateTimeField(null=True, blank=True)
    # Set when retention replaced the person's inputs by their bands (predictor.retention): age,
    # BMI and children then hold the band's representative value and created_at the day.
    anonymised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The admin's default ordering and its date hierarchy read newest first.
            models.Index(fields=["-created_at", "-id"], name="predictor_prediction_recent"),
        ]
        permissions = [("record_actual_charges", "Can record actual charges")]

    def __str__(self) -> str:
        return f"Prediction {self.pk}: ${self.predicted_charges:,}"


class ActualChargeChange(models.Model):
    """The audit trail of actual charges: one row each time a prediction's actual charges change.

    Fields: the ``prediction``, its ``previous_charges`` (empty for the first recording) and the
    new ``actual_charges`` (empty when staff cleared a wrong value), ``changed_by`` (the staff
    user; empty for the command line without ``--user``), ``changed_at`` and ``channel`` (the
    admin form, the upload page, the command or the API). Recording the value a prediction has
    already changes nothing and adds no row.
    """

    class Channel(models.TextChoices):
        ADMIN = "admin", "Admin form"
        UPLOAD = "upload", "CSV upload page"
        COMMAND = "command", "record_actuals command"
        API = "api", "API"

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="actual_changes")
    previous_charges = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    actual_charges = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(default=timezone.now, db_index=True)
    channel = models.CharField(max_length=7, choices=Channel.choices)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        def amount(value) -> str:
            return "none" if value is None else f"${value:,}"

        return f"Prediction {self.prediction_id}: {amount(self.previous_charges)} → {amount(self.actual_charges)}"
