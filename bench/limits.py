"""`make bench-limits`: do the rate limits hold across gunicorn's workers? Rows stored per second against the bound.

    .venv/bin/python -m bench.limits [--seconds 15] [--concurrency 8] [--limit 5/s]

Starts the app as deployed (gunicorn, 2 workers, PostgreSQL in a database it recreates,
BENCH_LIMITS_DATABASE_URL, default ``postgres://postgres@127.0.0.1:5432/bench_limits``; port
BENCH_LIMITS_PORT, default 5110) behind one pretend load balancer (``PREDICTOR_PROXY_HOPS=1``:
every request carries ``X-Forwarded-For`` ending with the client's address), with
``PREDICTOR_RATE_LIMIT_ANON`` set to ``--limit`` and ``PREDICTOR_API_ANON_MAX_RECORDS=100``.
Then ``--concurrency`` anonymous clients hammer it, one load after the other:

- the API with 100-record batches from one address;
- the form from one address;
- the API with 100-record batches from one address that writes a different spoofed address in
  front of ``X-Forwarded-For`` on every request (64 of them), as if each were a new client.

Each load starts on a window boundary and lasts whole windows; the rows it stored are counted by
their ``created_at`` over exactly those windows (the server shares this machine's clock). A row is
stamped after its request passed the limit, so every row counted was admitted in one of those
windows: with the limit held, they are at most limit x records per window, whatever the number of
workers. It prints rows stored per second against that bound (limit x max records) and exits 1 if
any load stored more, or if a load never reached the limit (no 429: then it showed nothing).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import psycopg2

from bench.loadgen import build_request, run_load
from bench.harness import HOST, VENV_BIN, form_request, fresh_database, log, server_env, start_server, stop, verdict
from predictor.examples import SAMPLE_PATIENT

DATABASE_URL = os.environ.get("BENCH_LIMITS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_limits")
PORT = int(os.environ.get("BENCH_LIMITS_PORT", "5110"))
RECORDS = 100
PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rows_between(source: str, start: float, end: float) -> int:
    with psycopg2.connect(DATABASE_URL) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM predictor_prediction WHERE source = %s AND created_at >= %s AND created_at < %s",
            [source, datetime.fromtimestamp(start, timezone.utc), datetime.fromtimestamp(end, timezone.utc)],
        )
        return cursor.fetchone()[0]


def api_payload(forwarded_for: str) -> bytes:
    body = json.dumps([SAMPLE_PATIENT] * RECORDS).encode()
    return build_request("POST", "/api/v1/predictions", f"{HOST}:{PORT}", body,
                         {"Content-Type": "application/json", "X-Forwarded-For": forwarded_for})


def form_payload(forwarded_for: str) -> bytes:
    """The form POST of harness.form_request to this benchmark's server, from ``forwarded_for``."""
    return form_request(port=PORT, headers={"X-Forwarded-For": forwarded_for})


def measure(name: str, payloads: list[bytes], *, source: str, records: int, success: int, limit: int, period: int,
            args) -> dict:
    windows = max(1, math.floor(args.seconds / period))
    # Start on a window boundary (plus a little, so that no earlier request is still being stored).
    start = (math.floor(time.time() / period) + 1) * period
    time.sleep(start - time.time())
    result = run_load(HOST, PORT, payloads, concurrency=args.concurrency, seconds=start + windows * period - time.time())
    end = start + windows * period
    time.sleep(0.5)
    stored = rows_between(source, start, end)
    bound = limit * records * windows
    part = {
        "name": name, "windows": windows, "seconds": windows * period, "rows_stored": stored, "bound_rows": bound,
        "rows_per_second": round(stored / (windows * period), 1), "bound_rows_per_second": limit * records / period,
        "requests": result.answered, "admitted": result.count(success), "refused_429": result.count(429),
        "other_statuses": {code: n for code, n in result.statuses.items() if code not in (success, 429)},
        "requests_per_second": round(result.rps, 1), "p99_ms": round(result.percentile(99) * 1000, 1),
    }
    log(f"{name}: {part}")
    return part


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each load, in whole windows (default 15)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--limit", default="5/s", help="PREDICTOR_RATE_LIMIT_ANON for the run (default 5/s: low "
                        "enough that 100-record batches exceed it even on a busy 2-core machine)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    count, _, unit = args.limit.partition("/")
    limit, period = int(count), PERIODS[unit]

    limits = {"PREDICTOR_RATE_LIMIT_ANON": args.limit, "PREDICTOR_API_ANON_MAX_RECORDS": str(RECORDS),
              "PREDICTOR_PROXY_HOPS": "1"}
    print("rate limits for this measurement: " + " ".join(f"{name}={value}" for name, value in limits.items()), flush=True)
    log(f"fresh database {DATABASE_URL}")
    fresh_database(DATABASE_URL)
    env = server_env(DATABASE_URL, **limits)
    for command in (["migrate", "--noinput"], ["activate_model", "--if-none-active"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=Path(__file__).resolve().parent.parent, env=env,
                       check=True, stdout=subprocess.DEVNULL)
    logs = Path(tempfile.mkdtemp(prefix="bench-limits-"))
    gunicorn = [str(VENV_BIN / "gunicorn"), "-c", "python:insurance_site.gunicorn", "--control-socket",
                str(logs / "app.ctl"), "insurance_site.wsgi:application"]
    app, ready = start_server(gunicorn, PORT, server_env(DATABASE_URL, GUNICORN_BIND=f"{HOST}:{PORT}", **limits),
                              logs / "app.log")
    log(f"app ready in {ready:.2f} s (gunicorn, 2 workers; log {logs / 'app.log'})")
    try:
        loads = [
            measure("API, 100-record batches, one address", [api_payload("198.51.100.1")],
                    source="api", records=RECORDS, success=201, limit=limit, period=period, args=args),
            measure("form POST, one address", [form_payload("198.51.100.2")],
                    source="web", records=1, success=302, limit=limit, period=period, args=args),
            measure("API, one address spoofing 64 others in X-Forwarded-For",
                    [api_payload(f"10.0.{n}.{n + 1}, 198.51.100.3") for n in range(64)],
                    source="api", records=RECORDS, success=201, limit=limit, period=period, args=args),
        ]
    finally:
        stop(app)
    return report(loads, args)


def report(loads: list[dict], args) -> int:
    print(f"\nrate limits: {args.concurrency} concurrent anonymous clients, gunicorn with 2 workers, "
          f"PREDICTOR_RATE_LIMIT_ANON={args.limit}, {os.cpu_count()} cores")
    print(f"{'':58}{'rows/s':>9}{'bound':>8}{'req/s':>8}{'admitted':>10}{'429':>7}")
    failed = 0
    for part in loads:
        print(f"{part['name']:58}{part['rows_per_second']:>9}{part['bound_rows_per_second']:>8g}"
              f"{part['requests_per_second']:>8}{part['admitted']:>10}{part['refused_429']:>7}")
    print()
    for part in loads:
        checks = [
            (f"{part['name']}: {part['rows_stored']:,} rows stored in {part['windows']} whole windows, "
             f"bound {part['bound_rows']:,}", part["rows_stored"] <= part["bound_rows"]),
            (f"{part['name']}: the load exceeded the limit ({part['refused_429']:,} answers 429)", part["refused_429"] > 0),
            (f"{part['name']}: every answer a success or 429 (others: {part['other_statuses'] or 'none'})",
             not part["other_statuses"]),
        ]
        failed += verdict(checks)
    if args.json:
        args.json.write_text(json.dumps(loads, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
