"""The benchmarks' shared measurement: PostgreSQL's CPU time per request."""

import os
import time

import psutil
import psycopg2

from bench.harness import postgres_cpu_seconds


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
