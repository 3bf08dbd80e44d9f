"""make bench's measurements: PostgreSQL's CPU time per request, and a load's rounds merged into one line."""

import os
import time

import psutil
import psycopg2
import pytest

from bench.run import postgres_cpu_seconds


def test_postgres_cpu_time_keeps_what_a_backend_spent_after_it_exits():
    # A connection of its own burns CPU in its backend and then closes: the backend exits during
    # the measurement, as autovacuum workers and short connections do under a benchmark's load.
    before = postgres_cpu_seconds()
    connection = psycopg2.connect(os.environ["DATABASE_URL"])
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = psutil.Process(cursor.fetchone()[0])
        cursor.execute("SELECT count(*) FROM generate_series(1, 3000000)")
        spent = sum(backend.cpu_times()[:2])
    connection.close()
    deadline = time.monotonic() + 10
    while backend.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not backend.is_running()
    assert spent > 0.1
    # The total (psutil's own per-process figures, summed over the live processes and the
    # postmaster's reaped children) still holds the exited backend's time; ±20 ms of clock ticks.
    assert postgres_cpu_seconds() - before >= spent - 0.02



def test_rounds_merge_sums_answers_and_takes_the_median_rounds_latencies():
    from bench.run import rounds_merge

    rounds = [
        {"requests": 800, "requests_per_second": 100.0, "answered_with_success": 800, "p50_ms": 10.19, "p99_ms": 17.37,
         "rows_stored": 800, "server_cpu_us_per_request": 1500},
        {"requests": 1200, "requests_per_second": 150.0, "answered_with_success": 1199, "p50_ms": 10.2, "p99_ms": 17.4,
         "rows_stored": 1199, "server_cpu_us_per_request": 1551},
    ]
    merged = rounds_merge(rounds)
    assert merged["requests"] == 2000 and merged["answered_with_success"] == 1999 and merged["rows_stored"] == 1999
    assert merged["requests_per_second"] == 125.0  # 2,000 requests over 8 + 8 seconds, not the mean of the rates
    # Two rounds: the mean of the middle two, rounded as the table prints it (10.195 once broke its columns).
    assert merged["p50_ms"] == pytest.approx(10.195, abs=0.006) and len(str(merged["p50_ms"])) <= 5
    assert merged["p99_ms"] == pytest.approx(17.385, abs=0.006) and len(str(merged["p99_ms"])) <= 5
    assert merged["server_cpu_us_per_request"] in (1525, 1526)
