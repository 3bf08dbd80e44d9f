"""Human oversight (Art. 14) as the product offers it, and the records each facility leaves (Art. 12).

Two functions describe the facilities of Art. 14(4)(d) and (e), one each, and are the only places the
documents read them from:

- ``override_facility()``: disregarding, overriding or reversing an output;
- ``pause_facility()``: stopping the system.

Each returns what staff can do, the ``LoggedRecord``s that record each use, and the figures its
statements name (a permission, a setting in force) with their sources; ``facility_blocks()`` is how
the documents print them, and ``logged_records()`` adds the records to the product's own for the
record-keeping section.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..models import ActualChargeChange, ChargeOverride, ModelChange, ServingChange
from .figures import Facts, Figure, Items
from .records import LoggedField, LoggedRecord, prediction_retention, product_records
from .sources import constant_figure, setting_figure

PERMISSIONS = "predictor.security.permissions"


@dataclass(frozen=True)
class Facility:
    """One oversight measure: the point of Art. 14(4), what staff can do (one sentence each), and its records."""

    point: str
    title: str
    how: tuple[str, ...]
    records: tuple[LoggedRecord, ...] = ()  # what records each use (listed with the others by logged_records())
    figures: tuple[Figure, ...] = ()  # the settings and constants the statements name, with their sources


def _record(model: type) -> LoggedRecord:
    """The product's own LoggedRecord of ``model``."""
    return next(record for record in product_records() if record.model is model)


def override_record() -> LoggedRecord:
    """Each override of an estimate (``ChargeOverride``): kept with its prediction, whatever retention does to it."""
    _, figures = prediction_retention()
    return LoggedRecord(
        ChargeOverride, "each reviewed charge staff record over an estimate (admin page or API)",
        (
            LoggedField("prediction", "the prediction, whose estimate stays as it was"),
            LoggedField("previous_charges", "the figure in force before: the estimate, or the override before"),
            LoggedField("reviewed_charges", "the reviewed charge"), LoggedField("reason", "why (required)"),
            LoggedField("created_at", "when"), LoggedField("created_by", "the staff user"),
            LoggedField("username", "their name as it was"), LoggedField("channel", "admin or API"),
        ),
        "kept with its prediction: anonymisation leaves it, and it is deleted only with its prediction (when retention "
        "deletes the prediction, or a superuser deletes it in the admin); the database refuses any other update or "
        "delete (migration 0011's trigger)",
        figures,
    )


def pause_record() -> LoggedRecord:
    """Each pause and resume of the service (``ServingChange``)."""
    return LoggedRecord(
        ServingChange, "each pause or resume of the service (serving_pause, serving_resume or the admin's page)",
        (
            LoggedField("kind", "pause or resume"), LoggedField("created_at", "when"),
            LoggedField("changed_by", "the staff user (none for a command without --user)", always=False),
            LoggedField("username", "their name as it was", always=False),
            LoggedField("channel", "command or admin"),
            LoggedField("reason", "why (required to pause, optional to resume)", always=False),
        ),
        "kept for ever: the database refuses to update or delete a row (migration 0011's trigger)",
    )


def interpretation_facility() -> Facility:
    """Art. 14(4)(a) and (c): understanding the output and its limits."""
    return Facility(
        "Art. 14(4)(a), (c)", "Understanding and interpreting each estimate",
        (
            "Every estimate is shown with its 90% prediction interval and the interval group it comes from, "
            "with that group's measured coverage.",
            "Inputs outside the training data's ranges are named beside the estimate as extrapolation.",
            "The result page, the API and the staff console explain what drives each estimate (Shapley contributions) "
            "and what would change it.",
            "The monitoring page and the scheduled monitor_report compare the estimates with the actual charges "
            "recorded, by month, interval group, region and model version, and flag input drift.",
        ),
    )


def automation_bias_facility() -> Facility:
    """Art. 14(4)(b): staying aware of automation bias."""
    return Facility(
        "Art. 14(4)(b)", "Awareness of automation bias",
        (
            "Nothing in the product acts on an estimate: it is stored and shown, and every decision on a price is "
            "the deployer's staff's.",
            "The instructions for use state the accuracy by group and the known limits, so that staff can weigh an estimate.",
        ),
    )


def override_facility() -> Facility:
    """Art. 14(4)(d): disregarding, overriding or reversing an output (predictor.oversight's overrides)."""
    return Facility(
        "Art. 14(4)(d)", "Disregarding, overriding or reversing an output",
        (
            "Staff with the override permission (below) record a reviewed charge over a stored prediction's estimate, "
            "with the reason (required): on the prediction's page in the admin (Override the estimate with a reviewed "
            "charge), or through the API (POST /api/v1/predictions/{id}/override); a bad charge, no reason or an "
            "unknown prediction is refused and nothing is stored.",
            "The model's estimate stays as it was written (its charge, interval and model version never change); each "
            "override is a row of its own, append-only (the database refuses to change one, or to delete one but with its "
            "prediction), with who, "
            "when, the figure before, the new one and why, and the latest is the reviewed charge in force.",
            "The result page, the API's read of a prediction, the admin and the CSV export show the reviewed charge "
            "apart from the model's estimate; monitoring measures the model's own accuracy on the estimate and "
            "reports the overrides in a section of their own.",
            "Staff with the permission record what was actually billed beside the estimate (admin form, upload page, "
            "record_actuals, API); each change is kept with who, when, the old and the new value.",
            "Staff reverse the model itself by making another version serve (activate_model, or a promotion of the "
            "challenger); each change is recorded with who, when, why and the evidence, and every task follows within "
            "PREDICTOR_ACTIVE_MODEL_TTL seconds (below).",
        ),
        (override_record(), _record(ActualChargeChange), _record(ModelChange)),
        (
            constant_figure(PERMISSIONS, "OVERRIDE_PERMISSION", "Permission to override an estimate", "text"),
            setting_figure("PREDICTOR_ACTIVE_MODEL_TTL", "Seconds until every task serves a newly activated version", "seconds"),
        ),
    )


def pause_facility() -> Facility:
    """Art. 14(4)(e): stopping the system (serving_pause and serving_resume, the admin's page)."""
    return Facility(
        "Art. 14(4)(e)", "Stopping the system",
        (
            "Staff with the pause permission (below) pause the service on the admin's page Serving changes, Pause or "
            "resume the service, and resume it there; operators do the same with `manage.py serving_pause --reason` "
            "and `serving_resume` (with --user to name the staff member). The reason is required to pause.",
            "While it is paused, the public form and the API's routes that predict answer 503 with a clear message "
            "and store nothing, and the staff pages and commands that score a file refuse too; reads, overrides and "
            "actual charges keep working.",
            "/healthz keeps answering 200, so the load balancer keeps the healthy tasks, and reports the pause and "
            "since when.",
            "The state is the latest pause or resume stored in the database; each process re-reads it at most every "
            "PREDICTOR_PAUSE_TTL seconds (below), so a pause or a resume holds across every task within that time.",
            "Every pause and resume is recorded, append-only (the database refuses to change or delete one), with "
            "who, when, the channel and why; pausing a paused service or resuming a running one changes and records "
            "nothing, and says so.",
            "Staff stop one model version from answering by making another version serve (activate_model); the "
            "change is recorded.",
            "Operators can also stop every task by setting the ECS service's desired count to 0 (the deploy "
            "template's DesiredCount); that is recorded by the cloud account's own audit log, not by the product.",
        ),
        (pause_record(), _record(ModelChange)),
        (
            constant_figure(PERMISSIONS, "SERVING_PAUSE_PERMISSION", "Permission to pause and resume the service", "text"),
            setting_figure("PREDICTOR_PAUSE_TTL", "Seconds until every task follows a pause or a resume", "seconds"),
        ),
    )


def oversight_facilities() -> list[Facility]:
    return [interpretation_facility(), automation_bias_facility(), override_facility(), pause_facility()]


def facility_blocks() -> list:
    """The oversight measures as the documents print them: one statement a facility, then their figures."""
    facilities = oversight_facilities()
    blocks: list = [Items(tuple(f"{facility.point}, {facility.title}: {' '.join(facility.how)}" for facility in facilities))]
    figures = tuple(figure for facility in facilities for figure in facility.figures)
    return [*blocks, Facts(figures)] if figures else blocks


def logged_records() -> list[LoggedRecord]:
    """Every record the product keeps (Art. 12): its own, then those of the oversight facilities not among them."""
    records = product_records()
    known = {record.model for record in records}
    for facility in oversight_facilities():
        for record in facility.records:
            if record.model not in known:
                records.append(record)
                known.add(record.model)
    return records
