"""`make bench-admin`: the staff console with a million predictions.

    .venv/bin/python -m bench.admin_scale [--rows 1000000] [--actuals 200000]

Fills the benchmark database (BENCH_DATABASE_URL, recreated) with ``--rows`` predictions in
one INSERT ... SELECT over generate_series, then times the admin pages staff use (the list,
filtered, searched, drilled down by date, a model version filter) and the CSV export of a
filtered list, counting the queries each page makes. In process, through Django's test
client, on the real PostgreSQL.

Then monitoring: ``--actuals`` actual charges (every fifth prediction) are recorded through
``manage.py record_actuals`` from a CSV file, as staff would, and timed; after a VACUUM ANALYZE
(what autovacuum does after such an update) it times the monitoring page (all of it, and one
version over one quarter), the admin index with its monitoring headline, and
``manage.py monitor_report`` (text and --json), each at most 2 s (issue 11); it exits 1 if one
is slower.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import os
import random
import sys
import tempfile
import time
from contextlib import redirect_stdout
from datetime import timedelta

from bench.harness import DATABASE_URL, fresh_database, log, manage
from bench.synthetic import predictions_insert


def time_pages(client, pages: dict[str, str]) -> float:
    """Print each page's best time of 3 and its query count; return the slowest page's best time."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    print(f"{'page':40}{'ms':>10}{'queries':>9}")
    slowest = 0.0
    for label, url in pages.items():
        timings = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = client.get(url)
                timings.append(time.perf_counter() - started)
            assert response.status_code == 200, (url, response.status_code)
        slowest = max(slowest, min(timings))
        print(f"{label:40}{min(timings) * 1000:>10.0f}{len(queries):>9}")
    return slowest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--actuals", type=int, default=None, help="actual charges to record (default: a fifth of --rows)")
    args = parser.parse_args()
    if args.actuals is None:
        args.actuals = args.rows // 5

    fresh_database()
    manage("migrate", "--noinput")
    os.environ.update(DJANGO_LOCAL_MODE="false", DATABASE_URL=DATABASE_URL, DJANGO_SECRET_KEY="benchmark-only-secret-key",
                      DJANGO_SETTINGS_MODULE="insurance_site.settings", DJANGO_LOG_LEVEL="WARNING")
    import django

    django.setup()
    from django.contrib import admin
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment

    from predictor import serving
    from predictor.models import Prediction

    setup_test_environment()
    version, _ = serving.model_version_activate_if_none()
    predictions_insert(rows=args.rows, model_version_id=version.pk, log=log)

    user = get_user_model().objects.create_superuser("bench", "bench@example.org", "bench-only-password")
    client = Client()
    client.force_login(user)
    year = time.gmtime().tm_year
    # Page 1,000, or the last page when there are fewer (a page past the end redirects).
    page = min(1000, max(1, math.ceil(args.rows / admin.site.get_model_admin(Prediction).list_per_page)))
    pages = {
        "list": "/admin/predictor/prediction/",
        "filtered (smoker, region, source)": "/admin/predictor/prediction/?smoker__exact=yes&region__exact=southeast&source__exact=web",
        "date drill-down (this year)": f"/admin/predictor/prediction/?created_at__year={year}",
        "model version filter": f"/admin/predictor/prediction/?model_version__id__exact={version.pk}",
        "search by id": "/admin/predictor/prediction/?q=123456",
        f"page {page:,}": f"/admin/predictor/prediction/?p={page}",
        "model versions": "/admin/predictor/modelversion/",
    }
    print(f"\nadmin with {args.rows:,} predictions (best of 3, in process, PostgreSQL)")
    time_pages(client, pages)

    started = time.perf_counter()
    response = client.get("/admin/predictor/prediction/export.csv?smoker__exact=yes")
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    print(f"{'CSV export, smokers (' + format(lines, ',') + ' rows)':40}{(time.perf_counter() - started) * 1000:>10.0f}")
    return monitoring_bench(client, version, args.actuals)


MONITORING_TARGET_SECONDS = 2.0


def monitoring_bench(client, version, actuals: int) -> int:
    """Record the actual charges through record_actuals, then time the monitoring page, the index and the report."""
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    rng = random.Random(11)
    with connection.cursor() as cursor:
        # Every fifth prediction; the amount billed is the estimate off by up to 30% either way (skewed up).
        cursor.execute(
            "SELECT id, predicted_charges FROM predictor_prediction WHERE id %% 5 = 0 ORDER BY id LIMIT %s", [actuals]
        )
        rows = cursor.fetchall()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "billed.csv")
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["prediction_id", "actual_charges"])
            for pk, predicted in rows:
                writer.writerow([pk, f"{float(predicted) * rng.uniform(0.7, 1.3) + rng.expovariate(1 / 500):.2f}"])
        log(f"recording {len(rows):,} actual charges with record_actuals")
        started = time.perf_counter()
        call_command("record_actuals", path, "--user", "bench", stdout=io.StringIO())
        recorded = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE predictor_prediction")
    log(f"VACUUM ANALYZE after the update: {time.perf_counter() - started:.1f} s")

    today = timezone.now().date()
    quarter = (today - timedelta(days=90)).isoformat()
    pages = {
        "monitoring page (all, every version)": "/admin/predictor/prediction/monitoring/",
        "monitoring page (one version, 90 days)": (
            f"/admin/predictor/prediction/monitoring/?model={version.name}&since={quarter}&until={today.isoformat()}"
        ),
        "admin index with the monitoring headline": "/admin/",
    }
    print(f"\nmonitoring with {len(rows):,} actual charges (best of 3, in process, PostgreSQL)")
    print(f"{'record_actuals, ' + format(len(rows), ',') + ' rows (once)':40}{recorded * 1000:>10.0f}")
    slowest = time_pages(client, pages)
    for label, options in (("monitor_report", []), ("monitor_report --json", ["--json"])):
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            with redirect_stdout(io.StringIO()):
                try:
                    call_command("monitor_report", *options, stdout=io.StringIO())
                except SystemExit:  # 1: something raised (the synthetic inputs do drift)
                    pass
            timings.append(time.perf_counter() - started)
        slowest = max(slowest, min(timings))
        print(f"{label:40}{min(timings) * 1000:>10.0f}")
    if slowest > MONITORING_TARGET_SECONDS:
        print(f"TARGET MISSED: the slowest monitoring view took {slowest:.2f} s (target {MONITORING_TARGET_SECONDS} s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
