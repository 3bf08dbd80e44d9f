"""Scoring the stored predictions with the challenger (and the champion), in vectorised chunks stored by COPY.

A version answers the same inputs the same way, so scoring the stored rows later equals shadowing
the version live, and adds nothing to a public request. For each stored prediction without a
score from the current challenger, the challenger's charge and 90% interval are stored in
``ChallengerScore``; the current champion scores the rows another version made, so that every row
has both answers (the rows a version made carry its own answer already, and are never scored by
it). A chunk is read by id, predicted in one call (``predict_charges_columns``) and stored with
COPY in one transaction: all of it or none. Rows scored already are not scored again, so a second
run scores nothing. Rows whose inputs retention anonymised (``anonymised_at``) are skipped and
counted: their inputs are bands, not the patient's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from .. import pg_copy, selectors
from ..features import FEATURES
from ..ml.artifacts import LoadedModel, ModelArtifactError, get_model
from ..ml.predict import predict_charges_columns
from ..models import ChallengerScore, ModelVersion, Prediction

DEFAULT_CHUNK_SIZE = 50_000
# The PostgreSQL advisory lock one run holds, so that two runs (the schedule and a person) never score at once.
SCORING_LOCK_KEY = 0x5C0BE22

ALREADY_RUNNING = "Another challenger_score is running (it holds the scoring lock); nothing was scored. Try again when it ends."

NO_CHALLENGER = (
    "There is no challenger to score: set one with `python manage.py challenger_set NAME` "
    "(or in the admin's list of model versions)."
)


class NoChallengerError(Exception):
    """No model version is the challenger."""


class ScoringBusyError(Exception):
    """Another run holds the scoring lock."""


@dataclass
class VersionScored:
    """What one version's run did: rows scored, rows skipped because retention anonymised their inputs."""

    version: ModelVersion
    role: str  # "challenger" or "champion"
    to_score: int = 0
    scored: int = 0
    skipped_anonymised: int = 0


@dataclass
class ScoreOutcome:
    """The run: one entry per version scored (the challenger first, then the champion, when there is one)."""

    versions: list[VersionScored] = field(default_factory=list)

    @property
    def scored(self) -> int:
        return sum(part.scored for part in self.versions)


# Called with a version's part once its rows to score are counted, then after each chunk is stored.
Progress = Callable[[VersionScored], None]


def _unscored(version: ModelVersion) -> QuerySet[Prediction]:
    """The stored predictions that another version made and that ``version`` has not scored yet."""
    scored = ChallengerScore.objects.filter(model_version=version, prediction=OuterRef("pk"))
    return Prediction.objects.exclude(model_version=version).exclude(Exists(scored))


def _verified_model(version: ModelVersion) -> LoadedModel:
    model = get_model(version.name)
    if model.sha256 != version.sha256:
        raise ModelArtifactError(
            f"Model version {version.name} is registered with sha256 {version.sha256}, but its artifact "
            f"{model.path} has {model.sha256}: refusing to score with it."
        )
    return model


def _chunk_columns(rows: list[tuple]) -> tuple[list[int], dict[str, np.ndarray]]:
    ids, *values = zip(*rows)
    columns = {}
    for name, column in zip(FEATURES, values):
        if name in ("age", "children"):
            columns[name] = np.fromiter(column, dtype="int64", count=len(rows))
        elif name == "bmi":
            columns[name] = np.fromiter(column, dtype="float64", count=len(rows))
        else:
            columns[name] = np.array(column, dtype=object)
    return list(ids), columns


def _money_text(values) -> list[str]:
    """Dollars as COPY text for a numeric(12, 2) column: each value's shortest ``repr``, which PostgreSQL rounds
    to the cent half away from zero, exactly ``pg_copy.cents_text``'s ``Decimal(repr(v)).quantize(CENT,
    ROUND_HALF_UP)`` (the rows' stored charges), with the formatting done in C and by the database."""
    return list(map(repr, np.asarray(values, dtype="float64").tolist()))


def _scores_insert(ids: list[int], version: ModelVersion, points, low, high) -> None:
    """Store one chunk's scores: COPY on PostgreSQL, bulk_create elsewhere (the local quick run)."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        none = [None] * len(ids)
        pg_copy.objects_insert([
            ChallengerScore(prediction_id=pk, model_version=version, charges=Decimal(charge), scored_at=now,
                            charges_low=low_text and Decimal(low_text), charges_high=high_text and Decimal(high_text))
            for pk, charge, low_text, high_text in zip(
                ids, pg_copy.cents_text(points), none if low is None else pg_copy.cents_text(low),
                none if high is None else pg_copy.cents_text(high),
            )
        ])
        return
    pg_copy.columns_insert(
        ChallengerScore,
        {
            "prediction_id": list(map(str, ids)),
            "model_version_id": str(version.pk),
            "charges": _money_text(points),
            "charges_low": pg_copy.NULL if low is None else _money_text(low),
            "charges_high": pg_copy.NULL if high is None else _money_text(high),
            "scored_at": now.isoformat(),
        },
        count=len(ids),
        reserve_ids=False,
    )


def _chunks(candidates: QuerySet[Prediction], chunk_size: int) -> Iterator[tuple[list[int], dict[str, np.ndarray]]]:
    """The rows to score, by ascending id, a chunk at a time: their ids and input columns."""
    last_id = 0
    while True:
        rows = list(candidates.filter(id__gt=last_id).values_list("id", *FEATURES)[:chunk_size])
        if not rows:
            return
        ids, columns = _chunk_columns(rows)
        last_id = ids[-1]
        yield ids, columns


def _version_score(part: VersionScored, *, chunk_size: int, progress: Progress | None) -> None:
    """Score a version's missing rows. The pipeline predicts the next chunk in a worker thread while this
    thread reads and stores (the database works with the GIL released), so the two overlap; every query
    and write stays on this thread's connection and transaction, each chunk's COPY in its own atomic block."""
    model = _verified_model(part.version)
    unscored = _unscored(part.version)
    counts = unscored.aggregate(  # one pass over the rows for both counts
        to_score=Count("id", filter=Q(anonymised_at__isnull=True)), skipped=Count("id", filter=Q(anonymised_at__isnull=False))
    )
    part.to_score, part.skipped_anonymised = counts["to_score"], counts["skipped"]
    candidates = unscored.filter(anonymised_at__isnull=True).order_by("id")
    if progress:
        progress(part)
    chunks = _chunks(candidates, chunk_size)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="challenger-predict") as worker:
        first = next(chunks, None)
        pending = None if first is None else (first[0], worker.submit(predict_charges_columns, first[1], model))
        while pending is not None:
            ids, predicted = pending
            following = next(chunks, None)  # read while the pipeline predicts
            points, low, high = predicted.result()
            pending = None if following is None else (following[0], worker.submit(predict_charges_columns, following[1], model))
            with transaction.atomic():  # stored while the pipeline predicts the following chunk
                if connection.vendor == "postgresql":
                    # Scores are derived and a run is idempotent: a crash may lose the last chunks, which the
                    # next run scores again, so the commit need not wait for the WAL to reach the disk.
                    with connection.cursor() as cursor:
                        cursor.execute("SET LOCAL synchronous_commit = off")
                _scores_insert(ids, part.version, points, low, high)
            part.scored += len(ids)
            if progress:
                progress(part)


def challenger_score(*, chunk_size: int = DEFAULT_CHUNK_SIZE, progress: Progress | None = None) -> ScoreOutcome:
    """Score every stored prediction that has no score from the current challenger, then the champion's
    missing ones; raise NoChallengerError when there is no challenger."""
    if chunk_size < 1:
        raise ValueError("The chunk size must be at least 1.")
    challenger = selectors.model_version_challenger()
    if challenger is None:
        raise NoChallengerError(NO_CHALLENGER)
    champion = selectors.model_version_active()
    outcome = ScoreOutcome([VersionScored(challenger, "challenger")])
    if champion is not None:
        outcome.versions.append(VersionScored(champion, "champion"))
    with _scoring_lock():
        for part in outcome.versions:
            _version_score(part, chunk_size=chunk_size, progress=progress)
    return outcome


@contextmanager
def _scoring_lock() -> Iterator[None]:
    """Hold the scoring lock for the run (PostgreSQL; SQLite, the local quick run, has one writer anyway)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [SCORING_LOCK_KEY])
        if not cursor.fetchone()[0]:
            raise ScoringBusyError(ALREADY_RUNNING)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [SCORING_LOCK_KEY])
