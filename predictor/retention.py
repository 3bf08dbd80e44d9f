"""Retention of patients' inputs: old predictions are anonymised (inputs replaced by coarse bands) or deleted.

The six inputs of a stored prediction are health data about a person. ``PREDICTOR_RETENTION_DAYS``
says how long they are kept; after that ``manage.py purge_predictions`` (run daily by the stack)
does ``PREDICTOR_RETENTION_ACTION`` to them:

- **anonymise** (the default): age, BMI and children are replaced by a representative value of
  their band, the time by its day (UTC), and ``anonymised_at`` is set. Sex, smoker and region are
  kept (two, two and four values: coarse already), and so are the charge, its interval, the model
  version, the source, the batch and the actual charges with their audit trail. The bands never
  straddle an edge the app groups by: the forecast's age bands (18-29, 30-39, 40-49, 50-64, 65+),
  obesity (BMI over 30, so the interval groups smoker × BMI > 30), and the committed models'
  training ranges (age 18-64, BMI 15.96-53.13, children 0-5, so "extrapolated" stays true). The
  representative value lies inside its band, so the band can be read back from the row.
- **delete**: the rows go, with every row that depends on them (Django's deletion collector:
  their ``ActualChargeChange`` audit trail and their staff overrides, ``ChargeOverride``); a ``Batch``
  loses them from its ``row_count`` and is deleted once none of its predictions is left.

Both work in batches of at most ``batch_size`` rows, each its own short transaction keyed on an
id range (the next ids of matching rows, read through the primary key), so a run on millions of
rows never holds a lock for long and never loads more than one batch's ids into Python.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from typing import Literal

from django.conf import settings
from django.db import transaction
from django.db.models import Case, Count, Exists, F, FloatField, IntegerField, Max, Min, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Trunc
from django.utils import timezone

from .models import ActualChargeChange, Batch, Prediction
from .models.oversight import prediction_delete_allow

Action = Literal["anonymise", "delete"]
ACTIONS: tuple[Action, ...] = ("anonymise", "delete")
DEFAULT_BATCH_SIZE = 5_000
MAX_BATCH_SIZE = 100_000


# ---------------------------------------------------------------------------
# The bands


@dataclass(frozen=True)
class Band:
    """Values up to ``upper`` (inclusive, or exclusive when ``inclusive`` is False; None: no limit),
    above the band before it, stored as ``value``."""

    label: str
    upper: float | None
    value: float
    inclusive: bool = True

    def holds(self, number: float) -> bool:
        if self.upper is None:
            return True
        return number <= self.upper if self.inclusive else number < self.upper


# The committed models' training ranges (their cards' ``training_ranges``), kept as band edges so
# that a patient flagged as an extrapolation stays flagged after anonymisation, and only they.
TRAINING_AGE = (18, 64)
TRAINING_BMI = (15.96, 53.13)
TRAINING_CHILDREN = (0, 5)

BANDS: dict[str, tuple[Band, ...]] = {
    # The forecast's age bands (predictor.forecasts.AGE_BANDS); 65+ is outside the training range.
    "age": (
        Band("18-29", 29, 24),
        Band("30-39", 39, 35),
        Band("40-49", 49, 45),
        Band("50-64", 64, 57),
        Band("65+", None, 70),
    ),
    # WHO's classes, split at obesity (over 30: the interval groups and the forecast) and at the
    # training range's ends.
    "bmi": (
        Band("under 15.96", TRAINING_BMI[0], 13.0, inclusive=False),
        Band("15.96-18.5", 18.5, 17.25),
        Band("18.5-25", 25.0, 21.75),
        Band("25-30", 30.0, 27.5),
        Band("30-35", 35.0, 32.5),
        Band("35-40", 40.0, 37.5),
        Band("40-53.13", TRAINING_BMI[1], 46.5),
        Band("over 53.13", None, 60.0),
    ),
    "children": (
        Band("0", 0, 0),
        Band("1-2", 2, 1),
        Band("3-5", TRAINING_CHILDREN[1], 3),
        Band("6+", None, 8),
    ),
}
BANDED_INPUTS = tuple(BANDS)


def band_of(name: str, number: float) -> Band:
    """The band of one input's value, e.g. ``band_of("bmi", 30.0)`` is "25-30"."""
    return next(band for band in BANDS[name] if band.holds(number))


def band_label(name: str, number: float) -> str:
    """The words for the band a value falls in, as the admin shows an anonymised row's input."""
    return band_of(name, number).label


def banded(name: str, number: float) -> float:
    """The value an input is stored as once anonymised: its band's representative value."""
    return band_of(name, number).value


def _band_sql(name: str) -> Case:
    """The same banding as ``banded``, as an SQL expression over the column."""
    output = FloatField() if name == "bmi" else IntegerField()
    whens = [
        When(Q(**{f"{name}__{'lte' if band.inclusive else 'lt'}": band.upper}), then=Value(band.value, output_field=output))
        for band in BANDS[name][:-1]
    ]
    return Case(*whens, default=Value(BANDS[name][-1].value, output_field=output), output_field=output)


# ---------------------------------------------------------------------------
# The policy: what the settings say


@dataclass(frozen=True)
class Policy:
    days: int | None
    action: Action

    def describe(self) -> str:
        """One sentence for the admin and the command: "Inputs are kept 365 days, then anonymised." """
        if self.days is None:
            return "Inputs are kept forever (PREDICTOR_RETENTION_DAYS is not set)."
        unit = "day" if self.days == 1 else "days"
        return f"Inputs are kept {self.days:,} {unit}, then {'anonymised' if self.action == 'anonymise' else 'deleted'}."


def retention_policy() -> Policy:
    """The configured retention (validated when the settings load)."""
    return Policy(days=settings.PREDICTOR_RETENTION_DAYS, action=settings.PREDICTOR_RETENTION_ACTION)


def retention_cutoff(*, days: int, now: datetime | None = None) -> datetime:
    """Predictions made before this moment are older than ``days`` days: exactly ``days`` × 24 hours before now."""
    return (now or timezone.now()) - timedelta(days=days)


# ---------------------------------------------------------------------------
# What a run would touch


def _candidates(*, action: Action, cutoff: datetime) -> QuerySet[Prediction]:
    predictions = Prediction.objects.order_by().filter(created_at__lt=cutoff)
    if action == "anonymise":
        predictions = predictions.filter(anonymised_at__isnull=True)
    return predictions


@dataclass
class Plan:
    """What a run finds to do: the rows (count and id span) and, for a delete, their dependants."""

    action: Action
    cutoff: datetime
    predictions: int
    first_id: int | None
    last_id: int | None
    actual_changes: int = 0  # delete: the audit-trail rows that go with them
    batches_emptied: int = 0  # delete: batches none of whose predictions would be left


def retention_plan(*, action: Action, cutoff: datetime) -> Plan:
    """Count what ``action`` would change for predictions made before ``cutoff`` (reads only)."""
    candidates = _candidates(action=action, cutoff=cutoff)
    span = candidates.aggregate(n=Count("id"), first=Min("id"), last=Max("id"))
    plan = Plan(action=action, cutoff=cutoff, predictions=span["n"], first_id=span["first"], last_id=span["last"])
    if action == "delete" and plan.predictions:
        plan.actual_changes = ActualChargeChange.objects.filter(prediction__created_at__lt=cutoff).count()
        plan.batches_emptied = (
            Batch.objects.filter(Exists(Prediction.objects.filter(batch=OuterRef("pk"), created_at__lt=cutoff)))
            .exclude(Exists(Prediction.objects.filter(batch=OuterRef("pk"), created_at__gte=cutoff)))
            .count()
        )
    return plan


# ---------------------------------------------------------------------------
# Doing it, a batch at a time

Progress = Callable[[int], None]


@dataclass
class Outcome:
    """What a run did: rows changed, dependants removed, batches, and its longest transaction (seconds)."""

    action: Action
    cutoff: datetime
    predictions: int = 0
    actual_changes: int = 0
    batches_emptied: int = 0
    transactions: int = 0
    longest_transaction: float = 0.0
    other_deleted: dict[str, int] = field(default_factory=dict)


def _next_ids(candidates: QuerySet[Prediction], after: int, size: int, last_id: int | None) -> list[int]:
    # Through the primary key from the last id done (and, given a plan, no further than its last id, so
    # that a batch short of rows does not walk the newer rows' ids): each batch reads only its own ids.
    if last_id is not None:
        candidates = candidates.filter(id__lte=last_id)
    return list(candidates.filter(id__gt=after).order_by("id").values_list("id", flat=True)[:size])


def _in_batches(outcome: Outcome, candidates: QuerySet[Prediction], change: Callable[[QuerySet[Prediction]], int], *,
                batch_size: int, progress: Progress | None, first_id: int | None, last_id: int | None) -> Outcome:
    """Walk the candidates' ids in batches, each its own short transaction in which ``change`` gets the batch's
    rows (the conditions applied again: a row changed since it was read is left as it now is) and returns how
    many predictions it changed; the outcome counts transactions and keeps the longest."""
    after = 0 if first_id is None else first_id - 1
    while True:
        started = time.perf_counter()
        with transaction.atomic():
            ids = _next_ids(candidates, after, batch_size, last_id)
            if not ids:
                break
            changed = change(candidates.filter(id__gte=ids[0], id__lte=ids[-1]))
        outcome.longest_transaction = max(outcome.longest_transaction, time.perf_counter() - started)
        outcome.transactions += 1
        outcome.predictions += changed
        after = ids[-1]
        if progress:
            progress(changed)
    return outcome


def predictions_anonymise(*, cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None,
                          first_id: int | None = None, last_id: int | None = None) -> Outcome:
    """Replace the banded inputs of every prediction made before ``cutoff`` and not yet anonymised; idempotent."""

    def anonymise(rows: QuerySet[Prediction]) -> int:
        return rows.update(
            **{name: _band_sql(name) for name in BANDED_INPUTS},
            created_at=Trunc("created_at", "day", tzinfo=dt_timezone.utc),
            anonymised_at=timezone.now(),
        )

    return _in_batches(
        Outcome(action="anonymise", cutoff=cutoff), _candidates(action="anonymise", cutoff=cutoff), anonymise,
        batch_size=batch_size, progress=progress, first_id=first_id, last_id=last_id,
    )


def predictions_delete(*, cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None,
                       first_id: int | None = None, last_id: int | None = None) -> Outcome:
    """Delete every prediction made before ``cutoff`` with what depends on it; emptied batches go too."""
    outcome = Outcome(action="delete", cutoff=cutoff)

    def delete(rows: QuerySet[Prediction]) -> int:
        prediction_delete_allow()  # their staff overrides go with them (the record refuses any other DELETE)
        per_batch = dict(rows.exclude(batch=None).values_list("batch").annotate(n=Count("id")).order_by())
        # Django's collector deletes (or nulls) whatever refers to the rows, so nothing is orphaned
        # and no foreign key fails; only the ids and foreign keys are read.
        _, deleted = rows.only("id", "batch_id", "model_version_id", "actual_recorded_by_id").delete()
        for batch_id, count in per_batch.items():
            Batch.objects.filter(pk=batch_id).update(row_count=F("row_count") - count)
        if per_batch:
            emptied = Batch.objects.filter(pk__in=list(per_batch)).exclude(
                Exists(Prediction.objects.filter(batch=OuterRef("pk")))
            )
            outcome.batches_emptied += emptied.delete()[1].get(Batch._meta.label, 0)
        outcome.actual_changes += deleted.get(ActualChargeChange._meta.label, 0)
        for label, count in deleted.items():
            if label not in (Prediction._meta.label, ActualChargeChange._meta.label):
                outcome.other_deleted[label] = outcome.other_deleted.get(label, 0) + count
        return deleted.get(Prediction._meta.label, 0)

    return _in_batches(
        outcome, _candidates(action="delete", cutoff=cutoff), delete,
        batch_size=batch_size, progress=progress, first_id=first_id, last_id=last_id,
    )


def retention_apply(*, action: Action, cutoff: datetime, batch_size: int = DEFAULT_BATCH_SIZE,
                    progress: Progress | None = None, plan: Plan | None = None) -> Outcome:
    """Anonymise or delete the predictions made before ``cutoff``. A ``plan`` for the same cut-off (its smallest
    and largest id to change) spares the batches a walk through the ids of rows newer than the cut-off; a row
    given an older time after the plan was made waits for the next run."""
    apply = predictions_anonymise if action == "anonymise" else predictions_delete
    bounds = {"first_id": plan.first_id, "last_id": plan.last_id} if plan is not None else {}
    return apply(cutoff=cutoff, batch_size=batch_size, progress=progress, **bounds)
