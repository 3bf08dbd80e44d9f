"""Record-keeping (Art. 12): what the product logs for each prediction and each staff action, and for how long.

Each ``LoggedRecord`` names a stored model, the fields it keeps (a test checks each is a column of
its table and is filled in a stored row), and its retention as the settings in force decide it.
The records of the human-oversight facilities (overrides, a pause) are listed by
``predictor.technical_file.oversight``, which adds them to ``product_records()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import models

from ..models import AccessLogEntry, ActualChargeChange, Batch, ChallengerScore, ModelChange, ModelVersion, Prediction
from .figures import Figure
from .sources import now_date, setting_figure, template_figure


@dataclass(frozen=True)
class LoggedField:
    name: str
    means: str
    always: bool = True  # filled in every row (else only when it applies, e.g. the batch of a batch row)


@dataclass(frozen=True)
class LoggedRecord:
    """One kind of stored record: when a row is written, what it holds, who writes it, and how long it is kept."""

    model: type[models.Model]
    when: str
    fields: tuple[LoggedField, ...]
    retention: str
    retention_figures: tuple[Figure, ...] = ()

    @property
    def table(self) -> str:
        return self.model._meta.db_table


def _f(name: str, means: str, always: bool = True) -> LoggedField:
    return LoggedField(name, means, always)


def prediction_retention() -> tuple[str, tuple[Figure, ...]]:
    days = settings.PREDICTOR_RETENTION_DAYS
    figures = (
        setting_figure("PREDICTOR_RETENTION_DAYS", "Days a prediction keeps the person's inputs", "days"),
        setting_figure("PREDICTOR_RETENTION_ACTION", "What happens after them", "text"),
    )
    if days is None:
        return "kept for ever: no retention period is set (PREDICTOR_RETENTION_DAYS is empty)", figures
    action = settings.PREDICTOR_RETENTION_ACTION
    what = (
        "anonymised (age, BMI and children replaced by coarse bands, the time by the day; charges, model version, actual "
        "charges and staff overrides kept)"
        if action == "anonymise" else "deleted, with its actual-charge changes, staff overrides and challenger scores"
    )
    return f"after {days:,} days {what} by the scheduled purge_predictions", figures


def product_records() -> list[LoggedRecord]:
    """The records the product keeps today, without the oversight facilities' (``oversight.logged_records`` adds those)."""
    retention, prediction_figures = prediction_retention()
    access_days = setting_figure("PREDICTOR_ACCESS_LOG_RETENTION_DAYS", "Days an access log entry is kept", "days")
    return [
        LoggedRecord(
            Prediction, "each prediction, from every entry point (web form, API, batch file, command)",
            (
                _f("created_at", "when it was made"),
                _f("source", "the entry point"),
                _f("model_version", "the model version that answered"),
                *(_f(name, "the input as received") for name in ("age", "sex", "bmi", "children", "smoker", "region")),
                _f("predicted_charges", "the estimate, never changed"),
                _f("predicted_charges_low", "the 90% interval's low end (when the version has one)"),
                _f("predicted_charges_high", "the 90% interval's high end"),
                _f("batch", "the file it was scored from", always=False),
                _f("actual_charges", "what was billed, recorded later by staff", always=False),
                _f("actual_recorded_by", "who recorded it", always=False),
                _f("actual_recorded_at", "when", always=False),
                _f("anonymised_at", "when retention banded its inputs", always=False),
            ),
            retention, prediction_figures,
        ),
        LoggedRecord(
            ModelVersion, "each model version, the first time it serves or is made the challenger",
            (_f("name", "its name"), _f("sha256", "the artifact's hash"), _f("card", "its whole model card"),
             _f("trained_at", "when it was trained"), _f("registered_at", "when it was first registered")),
            "kept for ever (predictions and changes refer to it; the admin cannot delete it)",
        ),
        LoggedRecord(
            ModelChange, "each staff action that changes the serving model or the challenger",
            (_f("created_at", "when"), _f("kind", "champion, challenger set or cleared"),
             _f("from_version", "the version before", always=False), _f("to_version", "the version after", always=False),
             _f("changed_by", "the staff user", always=False), _f("username", "their name as it was", always=False),
             _f("channel", "command, promotion, admin or start-up"), _f("reason", "why", always=False),
             _f("forced", "whether a failing comparison was overridden"), _f("evidence", "the comparison's figures", always=False)),
            "kept for ever: the database refuses to update or delete a row (migration 0008's trigger)",
        ),
        LoggedRecord(
            ActualChargeChange, "each staff action that records, corrects or clears actual charges",
            (_f("prediction", "the prediction"), _f("previous_charges", "the value before", always=False),
             _f("actual_charges", "the value after", always=False), _f("changed_by", "the staff user", always=False),
             _f("changed_at", "when"), _f("channel", "admin form, upload page, command or API")),
            "kept with its prediction: deleted only when retention deletes the prediction",
            prediction_figures,
        ),
        LoggedRecord(
            Batch, "each file of patients scored by staff",
            (_f("file_name", "the file's name"), _f("row_count", "predictions it holds"),
             _f("created_by", "the staff user", always=False), _f("created_at", "when")),
            "kept for ever (its predictions refer to it)",
        ),
        LoggedRecord(
            ChallengerScore, "each stored prediction scored by the challenger",
            (_f("prediction", "the prediction"), _f("model_version", "the challenger"), _f("charges", "its answer"),
             _f("charges_low", "its interval's low end", always=False), _f("charges_high", "its high end", always=False),
             _f("scored_at", "when")),
            "kept with its prediction: deleted only when retention deletes the prediction",
            prediction_figures,
        ),
        LoggedRecord(
            AccessLogEntry, "each staff read or export of stored health data (pages, exports, API reads, commands)",
            (_f("created_at", "when"), _f("user", "the staff user", always=False), _f("username", "their name", always=False),
             _f("token_name", "the API token used", always=False), _f("token_prefix", "its prefix", always=False),
             _f("command", "the command, when no user", always=False), _f("ip", "the client address", always=False),
             _f("action", "what was read"), _f("path", "the page or API path", always=False),
             _f("filters", "the filter used", always=False), _f("row_count", "how many rows the answer covered")),
            f"{settings.PREDICTOR_ACCESS_LOG_RETENTION_DAYS:,} days, then deleted by the scheduled purge_access_log",
            (access_days,),
        ),
        LoggedRecord(
            LogEntry, "each change staff save in the admin (actual charges on a prediction's page, a batch renamed, users)",
            (_f("action_time", "when"), _f("user", "the staff user"), _f("content_type", "the kind of record"),
             _f("object_id", "which record"), _f("object_repr", "the record as it read"),
             _f("action_flag", "added, changed or deleted"), _f("change_message", "the fields changed", always=False)),
            "kept for ever (Django's admin history; nothing deletes it)",
        ),
    ]


def application_log_figures() -> list[Figure]:
    """Where the process's own log goes (stdout, collected by the container platform) and how long it is kept."""
    figures = [Figure("Application log level", settings.LOGGING["root"]["level"], "setting LOGGING root level", now_date(),
                      "text", ("setting", "LOGGING.root.level"))]
    for path, label in (
        ("Resources.LogGroup.Properties.RetentionInDays", "Days the container log group keeps the application log"),
        ("Resources.WafLogGroup.Properties.RetentionInDays", "Days the WAF log group keeps request logs"),
        ("Parameters.LoadBalancerLogDays.Default", "Days the load balancer's access logs are kept (default)"),
    ):
        figure = template_figure(path, label, "days")
        if figure is not None:
            figures.append(figure)
    return figures
