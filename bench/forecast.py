"""`make bench` (after bench.run) and `make bench-forecast`: the forecast's timings, with issue 10's targets.

    .venv/bin/python -m bench.forecast [--members 100000] [--rows 1000000] [--repeats 3]

1. A file of ``--members`` random patients through ``manage.py forecast FILE --json``, in a
   subprocess with the deployed settings: wall-clock, Python's start-up included (target: 3 s for
   100,000). Its answer is checked (the patient count, the ranges nested).
2. ``--rows`` stored predictions (one INSERT ... SELECT over generate_series, spread over the last
   365 days) forecast through the page's service, ``forecast_from_stored``, in process,
   with a date filter selecting all of them (target: 5 s for 1,000,000), then one month's; and the
   whole page for the year (GET /forecast/?cohort=stored&since=...) through Django's test client.

Best and median of ``--repeats`` runs each. It uses the benchmark database (BENCH_DATABASE_URL,
recreated) and exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.harness import DATABASE_URL, ROOT, database_prepare, log, random_record, server_env, verdict
from bench.synthetic import predictions_insert

TARGETS = {"command_seconds": 3.0, "stored_seconds": 5.0}


def time_command(members: int, repeats: int) -> dict:
    rng = random.Random(members)
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "members.csv"
        with open(source, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["age", "sex", "bmi", "children", "smoker", "region"])
            writer.writeheader()
            writer.writerows(random_record(rng) for _ in range(members))
        timings, answer = [], None
        for _ in range(repeats):
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "manage.py", "forecast", str(source), "--json", "--no-progress"],
                                  cwd=ROOT, env=server_env(), check=True, capture_output=True, text=True)
            timings.append(time.perf_counter() - started)
            answer = json.loads(done.stdout)
    assert answer["patients"] == members, answer["patients"]
    ranges = answer["ranges"]
    assert ranges["90"][0] <= ranges["80"][0] <= ranges["50"][0] <= answer["median_total"] <= ranges["50"][1] <= ranges["80"][1] <= ranges["90"][1]
    result = {"members": members, "seconds": [round(t, 2) for t in timings], "best": round(min(timings), 2),
              "median": round(statistics.median(timings), 2), "expected_total": answer["expected_total"],
              "range_90": ranges["90"]}
    log(f"manage.py forecast: {result}")
    return result


def time_stored(rows: int, repeats: int) -> dict:
    os.environ.update(DJANGO_LOCAL_MODE="false", DATABASE_URL=DATABASE_URL, DJANGO_SECRET_KEY="benchmark-only-secret-key",
                      DJANGO_SETTINGS_MODULE="insurance_site.settings", DJANGO_LOG_LEVEL="WARNING")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    from predictor import serving
    from predictor.forecasts.cohorts import StoredFilter
    from predictor.forecasts.services import forecast_from_stored

    setup_test_environment()
    version = serving.model_version_activate()
    predictions_insert(rows=rows, model_version_id=version.pk, log=log, minutes_apart=525000)

    now = timezone.now()
    filters = {
        "the last 365 days": StoredFilter(since=now - timedelta(days=366), until=now + timedelta(minutes=1)),
        "the last 30 days": StoredFilter(since=now - timedelta(days=30), until=now + timedelta(minutes=1)),
    }
    result = {"rows": rows}
    for label, chosen in filters.items():
        timings = []
        for _ in range(repeats):
            started = time.perf_counter()
            forecast = forecast_from_stored(chosen)
            timings.append(time.perf_counter() - started)
        result[label] = {"patients": forecast.patients, "best": round(min(timings), 2),
                         "median": round(statistics.median(timings), 2), "seconds": [round(t, 2) for t in timings]}
        log(f"forecast_from_stored, {label}: {result[label]}")

    user = get_user_model().objects.create_superuser("bench", "bench@example.org", "bench-only-password")
    client = Client()
    client.force_login(user)
    since = (now - timedelta(days=366)).date()
    url = f"/forecast/?cohort=stored&since={since:%Y-%m-%d}&until={now:%Y-%m-%d}"
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.status_code
    result["page"] = {"best": round(min(timings), 2), "median": round(statistics.median(timings), 2)}
    log(f"the page: {result['page']}")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    log(f"fresh database {DATABASE_URL}")
    database_prepare()
    command = time_command(args.members, args.repeats)
    stored = time_stored(args.rows, args.repeats)

    year = stored["the last 365 days"]
    print(f"\nforecast benchmark ({os.cpu_count()} cores; best and median of {args.repeats})")
    print(f"{'':58}{'best s':>8}{'median s':>10}")
    members = f"manage.py forecast, {command['members']:,} patients, start-up included"
    print(f"{members:58}{command['best']:>8}{command['median']:>10}")
    for label in ("the last 365 days", "the last 30 days"):
        part = stored[label]
        title = f"stored, filtered by date ({label}: {part['patients']:,} rows)"
        print(f"{title:58}{part['best']:>8}{part['median']:>10}")
    print(f"{'the page, the last 365 days (GET /forecast/?...)':58}{stored['page']['best']:>8}{stored['page']['median']:>10}")
    checks = [
        (f"manage.py forecast of {command['members']:,} patients: {command['best']} s (target {TARGETS['command_seconds']:g} s)",
         command["best"] <= TARGETS["command_seconds"]),
        (f"{year['patients']:,} stored predictions filtered by date: {year['best']} s (target {TARGETS['stored_seconds']:g} s)",
         year["best"] <= TARGETS["stored_seconds"] and year["patients"] == args.rows),
    ]
    return 1 if verdict(checks) else 0


if __name__ == "__main__":
    sys.exit(main())
