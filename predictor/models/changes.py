"""Changing the model on evidence: the challenger's scores of stored predictions, and every change recorded."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from .predictions import ModelVersion, Prediction


class ChallengerScore(models.Model):
    """What a model version (the challenger, when it was scored) answers for a stored prediction's inputs.

    A version answers the same inputs the same way, so scoring stored rows later equals shadowing
    the version live. Fields: the ``prediction`` (its scores go with it when retention removes
    it), the ``model_version`` that scored, its ``charges`` with the 90% interval
    (``charges_low``, ``charges_high``, empty when the version has none) and ``scored_at``. One
    score per prediction and version; written only by ``manage.py challenger_score``.
    """

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="challenger_scores")
    # No index of its own: the unique (model_version, prediction) index starts with it, and a second index
    # would cost every COPY of a million scores its upkeep.
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="challenger_scores", db_index=False
    )
    charges = models.DecimalField(max_digits=12, decimal_places=2)
    charges_low = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    charges_high = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    scored_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "predictor_challenger_score"
        ordering = ["prediction_id", "model_version_id"]
        constraints = [
            models.UniqueConstraint(fields=["model_version", "prediction"], name="predictor_one_score_per_version")
        ]

    def __str__(self) -> str:
        return f"Prediction {self.prediction_id} by {self.model_version_id}: ${self.charges:,}"


class ModelChange(models.Model):
    """The record of every change of which version serves (or is the challenger): append-only.

    Fields: ``created_at``; ``kind`` (a new champion, a challenger set or cleared);
    ``from_version`` (the champion or challenger before; empty when there was none) and
    ``to_version`` (after; empty when a challenger was cleared); who: ``changed_by`` (empty for a
    command without ``--user`` or once the user is deleted) with ``username`` as it was;
    ``channel`` (the command, the promotion, the admin, the start-up step); ``reason`` (required
    for a forced promotion); ``forced``; and ``evidence``, the comparison's figures at that moment
    (``compare_models --json``; empty when there was none). A rollback is a change like any other.
    Rows are only ever added: the database refuses UPDATE and DELETE (migration 0008's trigger),
    and the admin shows them read-only.
    """

    class Kind(models.TextChoices):
        CHAMPION = "champion", "New champion (serving)"
        CHALLENGER_SET = "challenger_set", "Challenger set"
        CHALLENGER_CLEAR = "challenger_clear", "Challenger cleared"

    class Channel(models.TextChoices):
        COMMAND = "command", "Command"
        PROMOTION = "promotion", "promote_challenger"
        ADMIN = "admin", "Admin"
        STARTUP = "startup", "Start-up step"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    from_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_version = models.ForeignKey(ModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True)
    channel = models.CharField(max_length=9, choices=Channel.choices)
    reason = models.TextField(blank=True)
    forced = models.BooleanField(default=False)
    evidence = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        db_table = "predictor_model_change"
        ordering = ["-created_at", "-id"]
        permissions = [("change_models", "Can set the challenger and change the serving model")]

    def __str__(self) -> str:
        def name(version_id) -> str:
            return "none" if version_id is None else str(version_id)

        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.get_kind_display()}: {name(self.from_version_id)} → {name(self.to_version_id)}"
