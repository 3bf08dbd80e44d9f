"""Human oversight (Art. 14) as the product offers it, and the records each facility leaves (Art. 12).

Two functions describe the facilities of Art. 14(4)(d) and (e), one each, and are the only places the
documents read them from:

- ``override_facility()``: disregarding, overriding or reversing an output;
- ``pause_facility()``: stopping the system.

Each returns what staff can do and the ``LoggedRecord``s that record each use; ``logged_records()``
adds those records to the product's own for the record-keeping section.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from ..models import ActualChargeChange, ModelChange
from .records import LoggedRecord, product_records


@dataclass(frozen=True)
class Facility:
    """One oversight measure: the point of Art. 14(4), what staff can do (one sentence each), and its records."""

    point: str
    title: str
    how: tuple[str, ...]
    records: tuple[LoggedRecord, ...] = ()  # what records each use (listed with the others by logged_records())


def _record(model: type) -> LoggedRecord:
    """The product's own LoggedRecord of ``model``."""
    return next(record for record in product_records() if record.model is model)


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
    """Art. 14(4)(d): disregarding, overriding or reversing an output, as the product offers it today.

    Integration point: when the override record (predictor/models/oversight.py) is merged, describe it
    here and add its ``LoggedRecord`` (the model, when a row is written, its fields, its retention) to
    ``records``; the documents and the record-keeping test follow.
    """
    return Facility(
        "Art. 14(4)(d)", "Disregarding, overriding or reversing an output",
        (
            "A stored estimate is never changed: its charge, interval and model version are written once.",
            "Staff with the permission record what was actually billed beside the estimate (admin form, upload page, "
            "record_actuals, API); each change is kept with who, when, the old and the new value.",
            "Staff reverse the model itself by making another version serve (activate_model, or a promotion of the "
            "challenger); each change is recorded with who, when, why and the evidence, and every task follows within "
            f"{settings.PREDICTOR_ACTIVE_MODEL_TTL:g} s (PREDICTOR_ACTIVE_MODEL_TTL).",
        ),
        (_record(ActualChargeChange), _record(ModelChange)),
    )


def pause_facility() -> Facility:
    """Art. 14(4)(e): stopping the system, as the product offers it today.

    Integration point: when the pause record (predictor/models/oversight.py) and ``serving_pause`` /
    ``serving_resume`` are merged, describe them here and add the pause record's ``LoggedRecord`` to ``records``.
    """
    return Facility(
        "Art. 14(4)(e)", "Stopping the system",
        (
            "Staff stop a model version from answering by making another version serve (activate_model); the change "
            "is recorded.",
            "Operators stop every answer by setting the ECS service's desired count to 0 (the deploy template's "
            "DesiredCount); that is recorded by the cloud account's own audit log, not by the product.",
        ),
        (_record(ModelChange),),
    )


def oversight_facilities() -> list[Facility]:
    return [interpretation_facility(), automation_bias_facility(), override_facility(), pause_facility()]


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
