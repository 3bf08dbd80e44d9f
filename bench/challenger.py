"""`make bench` (after bench.forecast) and `make bench-challenger`: scoring the stored history with the challenger.

    .venv/bin/python -m bench.challenger [--rows 1000000] [--chunk-size 50000] [--check 500]

Recreates its own database (BENCH_DATABASE_URL, default ``bench_challenger``), migrates it, activates
the default model (the champion) and inserts ``--rows`` synthetic predictions made by it (one
INSERT ... SELECT, ``bench/synthetic.py``). Then ``huber-blend-v1`` is set as the challenger and
``manage.py challenger_score`` (its ``call_command``, in process, the model loaded as the command
loads it) scores them, timed: the target is 1,000,000 rows in at most 60 s (issue 22). Checked
afterwards: every row has exactly one score from the challenger, a second run scores nothing, and
``--check`` rows picked at random have the charge and interval that ``predict_charges_with_interval``
gives each alone, to the cent. Exits 1 when a check or the target fails.

For scale it also times what the database alone needs to store the same rows: one INSERT ... SELECT of
every prediction's stored charges into a scratch copy of the score table (its indexes and both foreign
keys, checked before the end), rolled back. On a shared machine the two move together.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from io import StringIO

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_challenger")

from bench.harness import DATABASE_URL, database_prepare, log, verdict  # noqa: E402
from bench.synthetic import predictions_insert  # noqa: E402

ROWS = 1_000_000
TARGET_SECONDS = 60.0  # for 1,000,000 rows; fewer rows get the same rate
CHALLENGER = "huber-blend-v1"


def score_timed(*, chunk_size: int) -> tuple[float, str]:
    """``manage.py challenger_score`` in process: its wall time and its output."""
    from django.core.management import call_command

    out = StringIO()
    started = time.perf_counter()
    call_command("challenger_score", "--no-progress", "--chunk-size", str(chunk_size), stdout=out, stderr=StringIO())
    return time.perf_counter() - started, out.getvalue()


def scores_checked(*, rows: int, check: int, seed: int = 22) -> dict:
    """What the run stored: the challenger's scores per row, and ``check`` random rows against the row-by-row oracle."""
    from decimal import Decimal

    from django.db.models import Count

    from predictor.ml import artifacts, predict
    from predictor.models import ChallengerScore, Prediction

    scores = ChallengerScore.objects.filter(model_version__name=CHALLENGER)
    per_row = scores.values("prediction_id").annotate(n=Count("id")).filter(n__gt=1).count()
    ids = list(Prediction.objects.values_list("id", flat=True))
    picked = random.Random(seed).sample(ids, min(check, len(ids)))
    model = artifacts.get_model(CHALLENGER)
    wrong = 0
    stored = {score.prediction_id: score for score in scores.filter(prediction_id__in=picked)}
    for prediction in Prediction.objects.filter(pk__in=picked):
        inputs = {name: getattr(prediction, name) for name in ("age", "sex", "bmi", "children", "smoker", "region")}
        expected = [Decimal(str(value)).quantize(Decimal("0.01"))
                    for value in predict.predict_charges_with_interval([inputs], model)[0]]
        score = stored.get(prediction.pk)
        wrong += score is None or [score.charges, score.charges_low, score.charges_high] != expected
    return {"scores": scores.count(), "rows_scored_twice": per_row, "checked": len(picked), "wrong": wrong,
            "predictions": len(ids)}


def store_floor_measure(version_id: int) -> float:
    """Seconds for the database alone to store one score per prediction with the table's indexes and foreign
    keys checked (an INSERT ... SELECT into a scratch copy, rolled back, the copy with it)."""
    from django.db import connection, transaction

    class RolledBack(Exception):
        pass

    seconds = 0.0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_score_scratch (LIKE predictor_challenger_score INCLUDING ALL)")
            for column, target in (("model_version_id", "predictor_modelversion"), ("prediction_id", "predictor_prediction")):
                cursor.execute(f"ALTER TABLE bench_score_scratch ADD FOREIGN KEY ({column}) REFERENCES {target} (id) "
                               "DEFERRABLE INITIALLY DEFERRED")
            started = time.perf_counter()
            cursor.execute(
                "INSERT INTO bench_score_scratch (prediction_id, model_version_id, charges, charges_low, charges_high, "
                "scored_at) SELECT id, %s, predicted_charges, predicted_charges_low, predicted_charges_high, now() "
                "FROM predictor_prediction", [version_id])
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the checks a commit would make, made now
            seconds = time.perf_counter() - started
            raise RolledBack
    except RolledBack:
        pass
    return seconds


def challenger_measure(*, rows: int, chunk_size: int, check: int) -> dict:
    """On the current database (migrated, a champion active): insert ``rows`` predictions, set the challenger,
    score them twice (the second run must score nothing) and check them."""
    from django.core.management import call_command

    from predictor import selectors

    champion = selectors.model_version_active()
    predictions_insert(rows=rows, model_version_id=champion.pk, log=log, minutes_apart=525_000)
    call_command("challenger_set", CHALLENGER, "--reason", "benchmark", stdout=StringIO())
    seconds, output = score_timed(chunk_size=chunk_size)
    log(output.strip())
    again, output_again = score_timed(chunk_size=chunk_size)
    result = {"rows": rows, "chunk_size": chunk_size, "seconds": round(seconds, 2), "second_run_seconds": round(again, 2),
              "second_run_output": output_again.strip(), **scores_checked(rows=rows, check=check)}
    result["rows_per_second"] = round(rows / seconds) if seconds else None
    result["store_floor_seconds"] = round(store_floor_measure(selectors.model_version_challenger().pk), 2)
    return result


def challenger_checks(result: dict) -> list[tuple[str, bool]]:
    """The verdict: the target (scaled to the rows) and the checks."""
    target = TARGET_SECONDS * result["rows"] / ROWS
    return [
        (f"challenger_score of {result['rows']:,} stored predictions: {result['seconds']:.1f} s "
         f"({result['rows_per_second']:,} rows/s; target at most {target:g} s)", result["seconds"] <= target),
        (f"every prediction has one score from the challenger ({result['scores']:,} of {result['predictions']:,})",
         result["scores"] == result["predictions"] == result["rows"] and result["rows_scored_twice"] == 0),
        (f"a second run scores nothing ({result['second_run_seconds']:.1f} s)",
         result["second_run_output"].startswith(f"{CHALLENGER} (challenger): 0 predictions scored")),
        (f"{result['checked']:,} random rows equal predict_charges_with_interval row by row, to the cent "
         f"({result['wrong']} differ)", result["wrong"] == 0),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=ROWS)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--check", type=int, default=500)
    args = parser.parse_args(argv)

    log(f"fresh database {DATABASE_URL}")
    database_prepare()
    os.environ.update(DJANGO_LOCAL_MODE="false", DATABASE_URL=DATABASE_URL, DJANGO_SECRET_KEY="benchmark-only-secret-key",
                      DJANGO_SETTINGS_MODULE="insurance_site.settings", DJANGO_LOG_LEVEL="WARNING")
    import django

    django.setup()
    result = challenger_measure(rows=args.rows, chunk_size=args.chunk_size, check=args.check)
    print(f"\nchallenger_score benchmark ({os.cpu_count()} cores): {result['rows']:,} stored predictions, "
          f"chunks of {result['chunk_size']:,}: {result['seconds']:.1f} s; the database alone stores the same rows "
          f"with their indexes and foreign keys checked in {result['store_floor_seconds']:.1f} s "
          f"(load average {os.getloadavg()[0]:.1f})")
    return 1 if verdict(challenger_checks(result)) else 0


if __name__ == "__main__":
    sys.exit(main())
