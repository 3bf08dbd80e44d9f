"""`make bench-profile`: where a one-row prediction's time goes, API POST and form POST.

    sudo .venv/bin/python -m bench.profile [--seconds 15] [--concurrency 8]

Starts the app as `make bench` does (gunicorn, 2 workers, PostgreSQL in BENCH_DATABASE_URL, recreated;
rate limits raised), loads it with one-row POSTs and records one worker with py-spy (sampling at
250 Hz; py-spy needs root, or ptrace rights, to read another process). Each sample is put to the
innermost named component found in its stack (so the one statement that stores a prediction and
counts it against the rate limit counts as that, the ORM's SQL as the ORM; what is left, such as
the transaction's COMMIT, as "other SQL"; a middleware that wraps the view gets only its own
frames, not the view's), and the shares are printed per load. Then, with the server stopped, the
statement's cost alone (bench/statement.py), and a whole request's of the app and of the floor
without gunicorn or a socket (bench/inprocess.py), and py-spy's shares on a loop whose split is
known, on a quiet machine and a busy one (bench/sampling.py). The raw collapsed stacks stay in the printed
folder (open them with speedscope or flamegraph.pl).
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.loadgen import run_load
from bench.harness import (APP_PORT, FLOOR_DATABASE_URL, HOST, ROOT, VENV_BIN, api_request, database_prepare,
                           form_request, log, server_env, start_server, stop)

import psutil

# (component, substrings of a frame's file path or function). Two kinds:
# - UMBRELLAS own everything they call (the database driver under the statement, numpy under the
#   model, Django's utilities under a template); the innermost umbrella in a stack wins.
# - Otherwise a sample goes to the innermost frame that names a component. A middleware whose
#   __call__ wraps the rest of the request (axes, whitenoise, Django's MiddlewareMixin) is only
#   the innermost named frame for its own work, never for the view's beneath it.
UMBRELLAS = [
    # The prediction's INSERT and its rate-limit count, one statement (building it, the round trip).
    ("the INSERT with its rate-limit count (one statement)", ("prediction_row_insert",)),
    ("rate limit check alone (predictor/security/ratelimit.py)", ("predictor/security/ratelimit.py",)),
    ("staff access log", ("predictor/security/access_log.py",)),
    ("model predict (predictor/ml)", ("predictor/ml/",)),
    ("ORM (django.db.models)", ("django/db/models/",)),
    ("template rendering", ("django/template/",)),
    ("form validation (django.forms)", ("django/forms/",)),
    ("session", ("django/contrib/sessions/",)),
    ("auth middleware", ("django/contrib/auth/",)),
]
COMPONENTS = [
    ("ninja parsing/validation/rendering", ("ninja/", "pydantic")),
    ("CSP middleware (django-csp)", ("csp/",)),
    ("axes middleware", ("axes/",)),
    ("CSRF", ("django/middleware/csrf.py",)),
    ("locale / i18n middleware", ("django/middleware/locale.py", "predictor/middleware.py")),
    ("messages middleware", ("django/contrib/messages/",)),
    ("other middleware (security, whitenoise, common, clickjacking)",
     ("django/middleware/", "whitenoise/", "django/utils/deprecation.py")),
    ("the views and services (predictor/)", ("predictor/",)),
    ("other SQL: transaction BEGIN/COMMIT, connection (psycopg2)", ("django/db/", "psycopg")),
    ("URL resolution, request/response objects",
     ("django/urls/", "django/http/", "django/core/handlers/", "django/shortcuts.py")),
    ("gunicorn (socket, HTTP parsing, access log)", ("gunicorn/",)),
]


def component(stack: str) -> str:
    """The innermost umbrella in the stack; else the component of its innermost named frame."""
    frames = list(reversed(stack.split(";")))
    for candidates in (UMBRELLAS, COMPONENTS):
        for frame in frames:
            for name, needles in candidates:
                if any(needle in frame for needle in needles):
                    return name
    return "other (interpreter)"


def breakdown(raw: Path) -> collections.Counter:
    shares: collections.Counter = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack:
            shares[component(stack)] += int(count)
    return shares


def profile(name: str, payload: bytes, worker: int, folder: Path, args) -> None:
    raw = folder / f"{name}.txt"
    spy = subprocess.Popen([str(VENV_BIN / "py-spy"), "record", "--pid", str(worker), "--rate", "250", "--format", "raw",
                            "--duration", str(int(args.seconds)), "--output", str(raw), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    load = threading.Thread(target=run_load, args=(HOST, APP_PORT, payload),
                            kwargs={"concurrency": args.concurrency, "seconds": args.seconds})
    load.start()
    load.join()
    if spy.wait(timeout=60) != 0:
        raise SystemExit(f"py-spy failed (it needs root): {spy.stderr.read().decode()[-500:]}")
    shares = breakdown(raw)
    total = sum(shares.values())
    print(f"\n{name}: {total} samples of one worker ({raw})")
    for part, count in shares.most_common():
        print(f"  {100 * count / total:5.1f} %  {part}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    database_prepare()
    folder = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    gunicorn = [str(VENV_BIN / "gunicorn"), "-c", "python:insurance_site.gunicorn", "--control-socket",
                str(folder / "app.ctl"), "insurance_site.wsgi:application"]
    app, _ = start_server(gunicorn, APP_PORT, server_env(GUNICORN_BIND=f"{HOST}:{APP_PORT}"), folder / "app.log")
    try:
        run_load(HOST, APP_PORT, api_request(), concurrency=args.concurrency, seconds=2)  # warm-up
        worker = psutil.Process(app.pid).children()[0].pid
        log(f"recording worker {worker}")
        profile("api", api_request(), worker, folder, args)
        profile("form", form_request(), worker, folder, args)
    finally:
        stop(app)
    print("\nThese are shares of samples, not of CPU: py-spy counts a worker that PostgreSQL or a client has woken"
          "\nand that waits for a busy core as busy, which inflates the statement and gunicorn's socket reads.")
    # With the server stopped, what a worker with a core to itself spends: on the statement alone,
    # and on a whole request of the app and of the floor, handed to the WSGI application directly.
    subprocess.run([sys.executable, "-m", "bench.statement"], cwd=ROOT, env=server_env(), check=True)
    database_prepare(FLOOR_DATABASE_URL)
    print("\none-row POSTs handed to the WSGI application in one process (no gunicorn, no socket),"
          " per request, best of 3 batches:", flush=True)
    for which in ("app", "floor"):
        subprocess.run([sys.executable, "-m", "bench.inprocess", which], cwd=ROOT, env=server_env(), check=True)
    # What the shares above mean, on a loop whose split is known (bench/sampling.py).
    subprocess.run([sys.executable, "-m", "bench.sampling"], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
