"""`make bench-retention`: the retention job on a million predictions.

    .venv/bin/python -m bench.retention [--rows 1000000] [--days 730] [--older-than 365] [--batch-size 5000]

Recreates its own database (BENCH_DATABASE_URL, default ``bench_retention``), migrates it and
inserts ``--rows`` synthetic predictions spread evenly over ``--days`` back from now
(``bench/synthetic.py``), with actual charges and their audit trail on every tenth one and 200
batches of 500 rows. Then, through ``manage.py purge_predictions`` in process, timed:

1. ``--older-than N --dry-run``, whose count must be the rows made before its cut-off;
2. ``--anonymise``: exactly the rows made before its cut-off (their ids, from a copy of the
   original times taken before) are anonymised, their charges and actual charges unchanged;
3. ``--delete``: exactly the rows made before its cut-off are gone, no audit-trail row is left
   without its prediction, every batch's ``row_count`` is its predictions and no batch is empty.

It prints each step's time and the longest single transaction (batch) the command reports, and
exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from datetime import datetime
from datetime import timezone as dt_timezone
from io import StringIO

os.environ.setdefault("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_retention")

from bench.harness import DATABASE_URL, fresh_database, log, manage  # noqa: E402
from bench.synthetic import predictions_insert  # noqa: E402

CUTOFF = re.compile(r"made before (\S+ \S+) UTC")
LONGEST = re.compile(r"the longest ([0-9.]+) s")
COUNT = re.compile(r"^(?:Dry run: )?([0-9,]+) predictions")


def run(*args: str) -> tuple[str, float, datetime]:
    """purge_predictions with these options: its output, the wall time, and the cut-off it printed."""
    from django.core.management import call_command

    out = StringIO()
    started = time.perf_counter()
    call_command("purge_predictions", *args, "--no-progress", stdout=out, stderr=StringIO())
    seconds = time.perf_counter() - started
    text = out.getvalue()
    print(f"  purge_predictions {' '.join(args)}: {seconds:.1f} s\n    " + text.strip().replace("\n", "\n    "))
    cutoff = datetime.strptime(CUTOFF.search(text)[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt_timezone.utc)
    return text, seconds, cutoff


def scalar(sql: str, params: list | None = None):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=float, default=730.0)
    parser.add_argument("--older-than", type=int, default=365)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()

    fresh_database()
    manage("migrate", "--noinput")
    os.environ.update(DJANGO_LOCAL_MODE="false", DATABASE_URL=DATABASE_URL, DJANGO_SECRET_KEY="benchmark-only-secret-key",
                      DJANGO_SETTINGS_MODULE="insurance_site.settings", DJANGO_LOG_LEVEL="WARNING")
    os.environ.pop("PREDICTOR_RETENTION_DAYS", None)
    import django

    django.setup()
    from django.db import connection

    from predictor import serving

    version, _ = serving.model_version_activate_if_none()
    predictions_insert(rows=args.rows, model_version_id=version.pk, log=log, over_days=args.days)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Every tenth prediction has actual charges, recorded twice (two audit-trail rows).
        cursor.execute("""
            UPDATE predictor_prediction SET actual_charges = predicted_charges + 100, actual_recorded_at = now()
            WHERE id %% 10 = 0
        """, [])
        cursor.execute("""
            INSERT INTO predictor_actualchargechange (prediction_id, previous_charges, actual_charges, changed_at, channel)
            SELECT id, prev, cur, now(), 'command' FROM predictor_prediction,
                   LATERAL (VALUES (NULL::numeric, predicted_charges), (predicted_charges, predicted_charges + 100)) AS v(prev, cur)
            WHERE id %% 10 = 0
        """, [])
        # 200 batches of 500 consecutive rows, spread over the whole span.
        step = max(args.rows // 200, 500)
        cursor.execute("""
            INSERT INTO predictor_batch (file_name, row_count, created_at)
            SELECT 'bench-' || k || '.csv', 500, now() FROM generate_series(0, 199) AS k
        """)
        cursor.execute("""
            UPDATE predictor_prediction p SET batch_id = b.id, source = 'batch'
            FROM predictor_batch b
            WHERE b.file_name = 'bench-' || ((p.id - 1) / %s) || '.csv' AND (p.id - 1) %% %s < 500
        """, [step, step])
        cursor.execute("UPDATE predictor_batch b SET row_count = (SELECT count(*) FROM predictor_prediction p WHERE p.batch_id = b.id)")
        cursor.execute("DELETE FROM predictor_batch b WHERE row_count = 0")
        # The original times, to check which rows each step touched.
        cursor.execute("CREATE TABLE bench_original AS SELECT id, created_at, predicted_charges, actual_charges FROM predictor_prediction")
        cursor.execute("CREATE UNIQUE INDEX ON bench_original (id)")
        cursor.execute("VACUUM ANALYZE predictor_prediction")
        cursor.execute("VACUUM ANALYZE predictor_actualchargechange")
    log(f"actual charges, audit trail and batches in {time.perf_counter() - started:.1f} s")
    print(f"\nretention on {args.rows:,} predictions over {args.days:g} days "
          f"(--older-than {args.older_than}, --batch-size {args.batch_size:,})")
    failures = []

    def check(ok: bool, what: str) -> None:
        print(f"    {'ok  ' if ok else 'FAIL'} {what}")
        if not ok:
            failures.append(what)

    older = ["--older-than", str(args.older_than), "--batch-size", str(args.batch_size)]
    text, dry_seconds, cutoff = run(*older, "--dry-run", "--anonymise")
    expected = scalar("SELECT count(*) FROM bench_original WHERE created_at < %s", [cutoff])
    check(int(COUNT.search(text)[1].replace(",", "")) == expected, f"dry run counts the {expected:,} rows before its cut-off")
    check(scalar("SELECT count(*) FROM predictor_prediction WHERE anonymised_at IS NOT NULL") == 0, "dry run changed nothing")

    text, anonymise_seconds, cutoff = run(*older, "--anonymise")
    anonymise_longest = float(LONGEST.search(text)[1])
    expected = scalar("SELECT count(*) FROM bench_original WHERE created_at < %s", [cutoff])
    check(int(COUNT.search(text)[1].replace(",", "")) == expected, f"anonymised {expected:,} rows, as many as before its cut-off")
    check(scalar("""
        SELECT count(*) FROM predictor_prediction p JOIN bench_original o USING (id)
        WHERE (p.anonymised_at IS NOT NULL) <> (o.created_at < %s)
    """, [cutoff]) == 0, "exactly the rows before the cut-off are anonymised")
    check(scalar("""
        SELECT count(*) FROM predictor_prediction p JOIN bench_original o USING (id)
        WHERE p.predicted_charges <> o.predicted_charges OR p.actual_charges IS DISTINCT FROM o.actual_charges
    """) == 0, "charges and actual charges unchanged")
    text, again_seconds, again_cutoff = run(*older, "--anonymise")
    crossed = scalar("SELECT count(*) FROM bench_original WHERE created_at >= %s AND created_at < %s", [cutoff, again_cutoff])
    changed = int(COUNT.search(text)[1].replace(",", ""))
    check(changed == crossed and scalar("SELECT count(*) FROM predictor_prediction WHERE anonymised_at IS NOT NULL")
          == scalar("SELECT count(*) FROM bench_original WHERE created_at < %s", [again_cutoff]),
          f"a second run changes only the {crossed:,} rows that became older than the cut-off since")
    again_longest = float(LONGEST.search(text)[1]) if changed else 0.0

    text, delete_seconds, cutoff = run(*older, "--delete")
    delete_longest = float(LONGEST.search(text)[1])
    kept = scalar("SELECT count(*) FROM bench_original WHERE created_at >= %s", [cutoff])
    check(scalar("SELECT count(*) FROM predictor_prediction") == kept, f"{kept:,} rows made after the cut-off are left")
    check(scalar("""
        SELECT count(*) FROM bench_original o LEFT JOIN predictor_prediction p USING (id)
        WHERE (p.id IS NULL) <> (o.created_at < %s)
    """, [cutoff]) == 0, "exactly the rows before the cut-off are deleted")
    check(scalar("""
        SELECT count(*) FROM predictor_actualchargechange c LEFT JOIN predictor_prediction p ON p.id = c.prediction_id
        WHERE p.id IS NULL
    """) == 0, "no audit-trail row without its prediction")
    check(scalar("""
        SELECT count(*) FROM predictor_actualchargechange c JOIN bench_original o ON o.id = c.prediction_id
        WHERE o.created_at >= %s
    """, [cutoff]) == 2 * scalar("SELECT count(*) FROM predictor_prediction WHERE id %% 10 = 0"),
        "the kept rows keep their audit trail")
    check(scalar("""
        SELECT count(*) FROM predictor_batch b
        WHERE row_count <> (SELECT count(*) FROM predictor_prediction p WHERE p.batch_id = b.id) OR row_count = 0
    """) == 0, "every batch's row count is its predictions, and no batch is empty")

    print(f"\n{'step':34}{'seconds':>9}{'longest transaction':>21}")
    print(f"{'dry run':34}{dry_seconds:>9.1f}{'(reads only)':>21}")
    print(f"{'anonymise':34}{anonymise_seconds:>9.1f}{anonymise_longest:>19.3f} s")
    print(f"{'anonymise again (the rows since)':34}{again_seconds:>9.1f}{again_longest:>19.3f} s")
    print(f"{'delete':34}{delete_seconds:>9.1f}{delete_longest:>19.3f} s")
    if failures:
        print(f"\n{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
