"""What the benchmarks share: the app's database and servers, its one-row loads and their measurement.

``make bench`` (bench/run.py) and the others (limits, cluster, forecast, profile, statement's and
inprocess's floor, admin_scale, retention, sampling) import from here: the ports and databases they
default to (BENCH_APP_PORT, BENCH_DATABASE_URL, BENCH_FLOOR_DATABASE_URL), a fresh database with
the app's tables and active model (``database_prepare``), the app's environment as deployed with
the rate limits raised (``server_env``, ``limits_note``), starting and stopping a server, the API's
and the form's one-row requests, one load measured (requests/s, latencies, rows stored and CPU
time per request) and the [PASS]/[FAIL] verdict.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import psutil
import psycopg2

from bench.loadgen import build_request, run_load
from predictor.examples import SAMPLE_PATIENT

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
APP_PORT = int(os.environ.get("BENCH_APP_PORT", "5100"))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/insurance_bench")
# The floor's own database (bench/floor_app.py), recreated each run.
FLOOR_DATABASE_URL = os.environ.get("BENCH_FLOOR_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_floor")
RECORD = SAMPLE_PATIENT
# The app's rate limits (predictor/security/ratelimit.py) would refuse a load from one address within a
# second, and an anonymous 10,000-record batch outright: the benchmark raises them through the
# variables a deploy sets, and says so (bench/limits.py measures the limits themselves).
RAISED_LIMITS = {
    "PREDICTOR_RATE_LIMIT_ANON": "1000000000/s",
    "PREDICTOR_RATE_LIMIT_TOKEN": "1000000000/s",
    "PREDICTOR_API_ANON_MAX_RECORDS": "10000",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def limits_note() -> str:
    """The line every benchmark that raises the rate limits prints."""
    return "rate limits raised for the benchmark: " + " ".join(f"{name}={value}" for name, value in RAISED_LIMITS.items())


def verdict(checks: list[tuple[str, bool]]) -> int:
    """Print each check as [PASS] or [FAIL] and its text; return how many failed."""
    failed = 0
    for text, ok in checks:
        failed += not ok
        print(f"[{'PASS' if ok else 'FAIL'}] {text}")
    return failed


# ---------------------------------------------------------------------------
# The database and the servers


def fresh_database(url: str = DATABASE_URL) -> None:
    parts = urllib.parse.urlparse(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(url.replace(parts.path, "/postgres"))
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def server_env(database_url: str = DATABASE_URL, **extra: str) -> dict[str, str]:
    """The app's environment as deployed: production settings (whatever the caller's shell has)
    with PostgreSQL and a key; cookies over plain http, as on a stack without a certificate,
    since the form load posts over http; the rate limits raised (``extra`` may set them)."""
    env = dict(os.environ)
    env.update(RAISED_LIMITS)
    env.update(
        DJANGO_LOCAL_MODE="false",
        DATABASE_URL=database_url,
        DJANGO_SECRET_KEY="benchmark-only-secret-key",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_SECURE_COOKIES="false",
        DJANGO_LOG_LEVEL="WARNING",
        WEB_CONCURRENCY="2",
        **extra,
    )
    return env


def manage(*args: str, database_url: str = DATABASE_URL) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=server_env(database_url), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def database_prepare(url: str = DATABASE_URL) -> None:
    """A fresh database with the app's tables and its active model version."""
    fresh_database(url)
    manage("migrate", "--noinput", database_url=url)
    manage("activate_model", "--if-none-active", database_url=url)


def start_server(command: list[str], port: int, env: dict[str, str], log_path: Path,
                 probe: tuple[str, str, str | None] = ("GET", "/healthz", None)):
    """Start a server; return (process, seconds until the probe request answered 200)."""
    method, path, body = probe
    headers = {"Content-Type": "application/json"} if body else {}
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log_path, "wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)
    while time.perf_counter() - started < 120:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}; see {log_path}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request(method, path, body, headers)
            if connection.getresponse().status == 200:
                return process, time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.05)
    stop(process)
    raise SystemExit(f"server on port {port} not ready after 120 s; see {log_path}")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def rows_by_source(url: str = DATABASE_URL) -> dict[str, int]:
    """The predictions stored in the database at ``url``, by source."""
    with psycopg2.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT source, count(*) FROM predictor_prediction GROUP BY source")
        return dict(cursor.fetchall())


# ---------------------------------------------------------------------------
# The loads


def api_request() -> bytes:
    return build_request("POST", "/api/v1/predictions", f"{HOST}:{APP_PORT}", json.dumps(RECORD).encode(),
                         {"Content-Type": "application/json"})


def form_request(*, port: int = APP_PORT, headers: dict[str, str] | None = None) -> bytes:
    """A form POST of the sample patient with a real CSRF cookie and token taken from the form page (a GET is
    not rate-limited), to the server on ``port``, with any extra ``headers``."""
    connection = http.client.HTTPConnection(HOST, port)
    connection.request("GET", "/")
    response = connection.getresponse()
    page = response.read().decode()
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "").group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **RECORD}).encode()
    return build_request("POST", "/", f"{HOST}:{port}", body, {
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"csrftoken={cookie}", **(headers or {}),
    })


def process_cpu_seconds(process: psutil.Process) -> float:
    """User and system CPU time of a process so far, with its children that have exited and been
    reaped, so a total over a process tree never goes back when one of them ends during a load."""
    return sum(process.cpu_times()[:4])  # user, system, reaped children's user and system


def cpu_seconds(master_pid: int) -> float:
    """CPU time of a gunicorn master and its workers so far (workers that ended counted in the master)."""
    processes = [psutil.Process(master_pid), *psutil.Process(master_pid).children(recursive=True)]
    return sum(process_cpu_seconds(process) for process in processes)


def postgres_cpu_seconds() -> float:
    """CPU time of this machine's PostgreSQL so far: its live processes, and the backends that have
    exited (the postmaster's reaped children)."""
    total = 0.0
    for process in psutil.process_iter(["name"]):
        try:
            if (process.info["name"] or "").startswith("postgres"):
                total += process_cpu_seconds(process)
        except psutil.Error:
            pass
    return total


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_load(name: str, payload: bytes, success: int, args, *, port: int, rows: tuple[str, str] | None = None,
                 server_pid: int | None = None) -> dict:
    """One load on ``port``. With ``rows`` (a database URL and a source) also the predictions it stored;
    with ``server_pid`` (a gunicorn master) the CPU time per answered request, in µs, of the server, of
    PostgreSQL (its backends that lived through the load) and of this load generator."""
    before = rows_by_source(rows[0]).get(rows[1], 0) if rows else 0
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    postgres_before, client_before = postgres_cpu_seconds(), own_cpu_seconds()
    result = run_load(HOST, port, payload, concurrency=args.concurrency, seconds=args.seconds)
    summary = result.summary()
    if server_pid and result.answered:
        summary["server_cpu_us_per_request"] = round(1e6 * (cpu_seconds(server_pid) - cpu_before) / result.answered)
        summary["postgres_cpu_us_per_request"] = round(1e6 * (postgres_cpu_seconds() - postgres_before) / result.answered)
        summary["client_cpu_us_per_request"] = round(1e6 * (own_cpu_seconds() - client_before) / result.answered)
    summary["answered_with_success"] = result.count(success)
    if rows:
        time.sleep(0.5)
        summary["rows_stored"] = rows_by_source(rows[0]).get(rows[1], 0) - before
    log(f"{name}: {summary}")
    return summary


def random_record(rng: random.Random) -> dict:
    return {
        "age": rng.randint(18, 64), "sex": rng.choice(["female", "male"]), "bmi": round(rng.uniform(16, 53), 2),
        "children": rng.randint(0, 5), "smoker": rng.choice(["yes", "no"]),
        "region": rng.choice(["northeast", "northwest", "southeast", "southwest"]),
    }


def api_sample_charge(port: int = APP_PORT) -> float:
    """The charge the app's API answers for the sample patient (one row, stored like any other)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    connection.request("POST", "/api/v1/predictions", json.dumps(RECORD), {"Content-Type": "application/json"})
    response = connection.getresponse()
    answer = response.read()
    if response.status != 201:
        raise SystemExit(f"the API answered the sample patient with {response.status}: {answer[:300]!r}")
    return float(json.loads(answer)["predicted_charges"])
