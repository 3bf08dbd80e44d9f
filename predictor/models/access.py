"""Who may read and how often: API tokens, rate-limit counts and the staff access log."""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A bearer token with which a staff user reads the prediction history through the API.

    Only the token's sha256 (``key_hash``) is stored, with its first characters
    (``prefix``) so staff can tell tokens apart; the token itself is shown once,
    when it is made. Fields: ``user``, ``name``, ``created_at``, ``last_used_at``.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the system that uses it.")
    prefix = models.CharField(max_length=8, editable=False)
    key_hash = models.CharField("SHA-256 of the token", max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class RateLimit(models.Model):
    """One client's count in the current window of a rate limit; written only by ``predictor.security.ratelimit``.

    Fields: ``key`` (whose count: ``anon:ADDRESS``, ``token:SHA256`` or ``user:ID``), ``window_start``
    and ``window_end`` (Unix seconds, the window being counted), ``hits`` (requests counted in it,
    stopped at the limit plus one). On PostgreSQL the table is UNLOGGED (migration 0005): a count
    is worth less than a durable commit, and a crash that empties it only forgives one window.
    """

    key = models.CharField(max_length=100, primary_key=True)
    window_start = models.BigIntegerField()
    window_end = models.BigIntegerField()
    hits = models.IntegerField()

    class Meta:
        db_table = "predictor_rate_limit"
        indexes = [models.Index(fields=["window_end"], name="predictor_rate_limit_end")]

    def __str__(self) -> str:
        return f"{self.key}: {self.hits} until {self.window_end}"


class AccessLogEntry(models.Model):
    """The staff access audit: one row each time stored health data is read or exported, written in the same request.

    Fields: ``created_at`` (when); who: ``user`` (empty once the user is deleted) with ``username``
    as it was (kept when the user is gone), ``token_name`` and ``token_prefix`` when an API token
    was used, ``command`` when a management command read the data (then no user); ``ip``, the
    client's address from ``predictor.security.client_ip`` (empty for a command); ``action``; ``path``;
    ``filters`` (the query or filter used, as JSON) and ``row_count`` (the rows, patients or
    predictions the answer covered). Written only by ``predictor.security.access_log``; never changed, except
    that a streamed export corrects its ``row_count`` at its end to the rows it really sent.
    """

    class Action(models.TextChoices):
        PREDICTIONS_EXPORT = "predictions_export", "Admin: CSV export of predictions"
        PREDICTION_VIEW = "prediction_view", "Admin: a prediction's page"
        BATCH_DOWNLOAD = "batch_download", "Batch page: scored file downloaded"
        FORECAST_FILE = "forecast_file", "Forecast of a file or of records"
        FORECAST_STORED = "forecast_stored", "Forecast of stored predictions"
        HISTORY_LIST = "history_list", "API: list of predictions"
        HISTORY_DETAIL = "history_detail", "API: one prediction"
        MONITORING = "monitoring", "Monitoring page"
        TRAINING_EXPORT = "training_export", "Command: export_training_data"
        ACCESS_LOG_EXPORT = "access_log_export", "Admin: CSV export of the access log"
        TECHNICAL_FILE = "technical_file", "Technical file or instructions for use (accuracy on recorded actuals)"
        MODEL_COMPARISON = "model_comparison", "Champion and challenger comparison"
        FAIRNESS = "fairness", "Fairness figures over recorded actual charges"

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    username = models.CharField(max_length=150, blank=True, db_index=True)
    token_name = models.CharField("API token", max_length=100, blank=True)
    token_prefix = models.CharField("API token prefix", max_length=8, blank=True)
    command = models.CharField(max_length=100, blank=True)
    ip = models.CharField("IP address", max_length=100, blank=True)
    action = models.CharField(max_length=20, choices=Action.choices)
    path = models.TextField(blank=True)
    filters = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    row_count = models.PositiveBigIntegerField("rows")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "access log entry"
        verbose_name_plural = "access log"

    def __str__(self) -> str:
        who = self.username or (f"command {self.command}" if self.command else "unknown")
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {who}: {self.get_action_display()} ({self.row_count:,} rows)"
