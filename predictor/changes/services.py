"""The comparison of the champion with the challenger, and the promotion of the challenger by its rule.

Every read of the comparison (the staff page, the API, ``compare_models``, ``promote_challenger``) is
recorded in the staff access log before its figures are returned; it fails closed
(``AccessLogUnavailable``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.http import HttpRequest

from .. import serving
from ..ml import compare
from ..models import ModelChange, ModelVersion
from ..security import access_log
from . import selectors

NO_CHALLENGER = (
    "There is no challenger to compare: set one with `python manage.py challenger_set NAME` "
    "(or in the admin), then score it with `python manage.py challenger_score`. Nothing changed."
)
NO_CHAMPION = "No model version is active, so there is no champion to compare with. Nothing changed."
PROMOTABLE = ("better", "not_worse")


class ComparisonUnavailable(Exception):
    """The versions cannot be compared: no challenger, no champion, or no row with an actual charge and both answers."""


class PromotionRefused(Exception):
    """The challenger was not promoted; ``comparison`` holds the evidence when there was one."""

    def __init__(self, message: str, comparison: ModelComparison | None = None):
        super().__init__(message)
        self.comparison = comparison


@dataclass(frozen=True)
class ModelComparison:
    """The comparison's figures (``compare_models --json``) and the paired differences behind them (the chart's)."""

    figures: dict[str, Any]
    differences: np.ndarray

    @property
    def verdict(self) -> str:
        return self.figures["verdict"]


def model_comparison(*, request: HttpRequest | None = None, command: str = "") -> ModelComparison:
    """Compare the champion and the challenger on the stored predictions with actual charges; record the read.

    Raises ComparisonUnavailable (nothing read, nothing recorded) when they cannot be compared.
    """
    if connection.vendor != "postgresql":
        raise ComparisonUnavailable("The comparison needs PostgreSQL (the local SQLite run cannot make it). Nothing changed.")
    champion, challenger = selectors.champion_and_challenger()
    if challenger is None:
        raise ComparisonUnavailable(NO_CHALLENGER)
    if champion is None:
        raise ComparisonUnavailable(NO_CHAMPION)
    rows = selectors.comparison_rows(champion=champion, challenger=challenger)
    if not rows.with_actual:
        raise ComparisonUnavailable(
            "No stored prediction has an actual charge yet, so the versions cannot be compared: record the "
            "charges billed (`python manage.py record_actuals FILE`, the admin, or the API). Nothing changed."
        )
    if not len(rows.ids):
        raise ComparisonUnavailable(
            f"None of the {rows.with_actual:,} predictions with an actual charge has an answer from both {champion.name} "
            f"and {challenger.name} ({rows.skipped_not_scored:,} not scored yet, {rows.skipped_anonymised:,} anonymised): "
            "run `python manage.py challenger_score`. Nothing changed."
        )
    figures = compare.comparison(
        actual=rows.actual,
        champion=compare.Answers(champion.name, *rows.champion),
        challenger=compare.Answers(challenger.name, *rows.challenger),
        segments=rows.segments,
        orders=selectors.SEGMENT_ORDERS,
        margin=settings.PREDICTOR_CHALLENGER_MARGIN,
    )
    groups, predictions, with_actual = selectors.segment_counts()
    shares = compare.representation(groups, predictions=predictions, with_actual=with_actual)
    figures["rows"] = {
        "predictions": predictions,
        "with_actual": rows.with_actual,
        "compared": len(rows.ids),
        "skipped_not_scored": rows.skipped_not_scored,
        "skipped_anonymised": rows.skipped_anonymised,
    }
    figures["representation"] = shares
    figures["warnings"] = [
        f"{part['dimension']} {part['group']}: {part['share']:.1%} of its {part['predictions']:,} predictions have an "
        f"actual charge, against {with_actual / predictions:.1%} overall; the comparison under-represents it."
        for part in shares
        if part["under_represented"]
    ]
    if rows.skipped_not_scored:
        figures["warnings"].append(
            f"{rows.skipped_not_scored:,} predictions with an actual charge are not scored by both versions yet "
            "(run `python manage.py challenger_score`); they are left out."
        )
    access_log.access_log_record(
        request=request, command=command, action=access_log.Action.MODEL_COMPARISON, row_count=len(rows.ids),
        filters={"champion": champion.name, "challenger": challenger.name},
    )
    actual = rows.actual
    differences = np.abs(actual - rows.challenger[0]) - np.abs(actual - rows.champion[0])
    return ModelComparison(figures=figures, differences=differences)


@dataclass(frozen=True)
class Promotion:
    """A promotion made: the new champion, the one before, whether the rule was overridden, and the evidence."""

    version: ModelVersion
    previous: ModelVersion | None
    forced: bool
    comparison: ModelComparison | None


def challenger_promote(
    *,
    user: AbstractBaseUser | None = None,
    reason: str = "",
    force: bool = False,
    request: HttpRequest | None = None,
    command: str = "",
) -> Promotion:
    """Make the challenger the champion when the comparison's verdict is "better" or "not worse".

    ``force`` (which needs a ``reason``) promotes on any verdict, or without a comparison when none can be
    made; the change is then recorded as forced. The change is recorded with channel "promotion", who,
    why, and the comparison's figures as its evidence. Raises ComparisonUnavailable (no challenger, or
    nothing to compare without ``force``) or PromotionRefused; either way nothing changed.
    """
    reason = reason.strip()
    if force and not reason:
        raise PromotionRefused("A forced promotion needs a reason (--reason TEXT): it is recorded with the change. Nothing changed.")
    champion, challenger = selectors.champion_and_challenger()
    if challenger is None:
        raise ComparisonUnavailable(NO_CHALLENGER)
    comparison, forced = None, False
    try:
        comparison = model_comparison(request=request, command=command)
        evidence = comparison.figures
    except ComparisonUnavailable as exc:
        if not force:
            raise
        evidence, forced = {"unavailable": str(exc)}, True
    if comparison is not None and comparison.verdict not in PROMOTABLE:
        if not force:
            raise PromotionRefused(
                f"{challenger.name} was not promoted: the verdict is {compare.VERDICT_LABELS[comparison.verdict]}. "
                + " ".join(comparison.figures["reasons"]) + " Nothing changed.",
                comparison,
            )
        forced = True
    with transaction.atomic():
        # The champion and the challenger compared must still be the ones to change.
        now = {version.pk: version for version in ModelVersion.objects.select_for_update().filter(pk__in=[
            version.pk for version in (champion, challenger) if version is not None
        ])}
        if not now.get(challenger.pk) or not now[challenger.pk].challenger or (
            champion is not None and not now[champion.pk].active
        ):
            raise PromotionRefused("The champion or the challenger changed while comparing them; compare again. Nothing changed.")
        version = serving.model_version_activate(
            name=challenger.name,
            by=serving.ChangeBy(channel=ModelChange.Channel.PROMOTION, user=user, reason=reason, forced=forced, evidence=evidence),
        )
    return Promotion(version=version, previous=champion, forced=forced, comparison=comparison)
