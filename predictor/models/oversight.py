"""Human oversight (EU AI Act Art. 14(4)(d) and (e)): staff override an estimate, or stop the service.

Both records are append-only: the database refuses UPDATE and DELETE on them (migration 0011's
triggers). The one exception is the deletion of a prediction (the retention purge, or a superuser
in the admin): its overrides go with it, inside a transaction that first sets the PostgreSQL
setting ``PREDICTION_DELETE_SETTING`` (``prediction_delete_allow``); nothing else can remove them.
"""

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from .predictions import Prediction

# The transaction-local PostgreSQL setting under which an override may be deleted with its prediction.
PREDICTION_DELETE_SETTING = "predictor.prediction_delete"


def prediction_delete_allow() -> None:
    """Let the current transaction delete predictions together with their overrides (PostgreSQL; a no-op elsewhere)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, 'on', true)", [PREDICTION_DELETE_SETTING])


class ChargeOverride(models.Model):
    """A reviewed charge staff recorded over a stored prediction's estimate: append-only.

    Fields: the ``prediction`` (its ``predicted_charges``, the model's own estimate, never
    changes); ``previous_charges``, the figure in force before (the estimate, or the reviewed
    charge of the override before); the new ``reviewed_charges``; the ``reason`` (required);
    ``created_at``; who: ``created_by`` (a user with overrides cannot be deleted; deactivate it)
    with ``username`` as it was; and the ``channel`` (the admin or the API). The latest override
    of a prediction is its reviewed charge in force.
    """

    class Channel(models.TextChoices):
        ADMIN = "admin", "Admin"
        API = "api", "API"

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="overrides")
    previous_charges = models.DecimalField(max_digits=12, decimal_places=2)
    reviewed_charges = models.DecimalField(max_digits=12, decimal_places=2)
    reason = models.TextField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    username = models.CharField(max_length=150)
    channel = models.CharField(max_length=5, choices=Channel.choices)

    class Meta:
        db_table = "predictor_charge_override"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["prediction", "-id"], name="predictor_override_latest")]
        permissions = [("record_override", "Can override an estimate with a reviewed charge")]

    def __str__(self) -> str:
        return f"Prediction {self.prediction_id}: ${self.previous_charges:,} → ${self.reviewed_charges:,}"


class ServingChange(models.Model):
    """Every pause and resume of the service: append-only; the latest row says whether it is paused.

    Fields: ``kind`` (pause or resume), ``created_at``, who: ``changed_by`` (empty for a command
    without ``--user``) with ``username`` as it was, the ``channel`` (the command or the admin),
    and the ``reason`` (required to pause). No row at all means the service runs.
    """

    class Kind(models.TextChoices):
        PAUSE = "pause", "Paused"
        RESUME = "resume", "Resumed"

    class Channel(models.TextChoices):
        COMMAND = "command", "Command"
        ADMIN = "admin", "Admin"

    kind = models.CharField(max_length=6, choices=Kind.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=7, choices=Channel.choices)
    reason = models.TextField(blank=True)

    class Meta:
        db_table = "predictor_serving_change"
        ordering = ["-id"]
        permissions = [("change_serving", "Can pause and resume the service")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.get_kind_display()}"
