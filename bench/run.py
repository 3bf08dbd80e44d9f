"""`make bench`: the app as deployed (gunicorn, 2 workers, PostgreSQL) against the tutorial's approach.

    .venv/bin/python -m bench.run [--seconds 20] [--rounds 3] [--concurrency 8] [--json results.json] [--quick]

In one run it measures: start-up time to a ready /healthz; one-row predictions through
``POST /api/v1/predictions`` and through the form POST (requests/s, p50, p99, rows stored
against requests answered); worker memory; a 10,000-record API batch; 100,000 rows through
``manage.py predict_csv``, then the lower bound of batch work on the same rows with
predict_csv's ratio to it, start-up aside (bench/bound.py), and 1,000,000 rows with the command's peak
resident memory (target 1 GiB) and the same ratio; an API batch of 10,000 and record_actuals of 200,000
against their own bounds (bench/bound_paths.py); the same one-row load against the floor, a bare Django view that parses the same JSON and does one
raw INSERT (bench/floor_app.py, same gunicorn settings, its own database BENCH_FLOOR_DATABASE_URL);
and the same one-row load against a baseline server that calls
PyCaret's ``predict_model`` per request (Flask, 2 gunicorn workers, no database), with the
ratio. For the app and the floor it also prints the server's CPU time (gunicorn's master and
workers) per answered request. ``--quick`` runs only the one-row loads and the floor. It uses its
own database (BENCH_DATABASE_URL, created afresh) and loopback ports only. It exits 1 when a
target is missed (issues 6 and 25), or the one-row path falls below 0.55 of the floor.
"""

from __future__ import annotations

import argparse
import csv
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench import bound, bound_paths
from bench.harness import (APP_PORT, DATABASE_URL, FLOOR_DATABASE_URL, HOST, RECORD, ROOT, VENV_BIN, api_request,
                           database_prepare, form_request, limits_note, log, measure_load, random_record, rows_by_source,
                           server_env, start_server, stop, verdict)
from bench.harness import api_sample_charge
from bench.loadgen import build_request, run_load

BASELINE_PORT = int(os.environ.get("BENCH_BASELINE_PORT", "5200"))
FLOOR_PORT = int(os.environ.get("BENCH_FLOOR_PORT", "5300"))

TARGETS = {
    "ratio": 30.0,  # one-row requests/s against the baseline, API and form each
    "p99_ms": 50.0,
    "batch_api_seconds": 2.0,  # 10,000 records
    "predict_csv_seconds": 10.0,  # 100,000 rows, stored
    "predict_csv_million_rss_mb": 1024.0,  # 1,000,000 rows: the command's peak resident memory (issue 25)
    "worker_rss_mb": 300.0,
    "ready_seconds": 5.0,
    # requests/s against the floor: a bare Django view, same JSON, one raw INSERT (issue 14)
    # (issue 25's decision: a floor the one-row path must not fall below, no longer a goal to reach)
    "api_to_floor": 0.55,
    "form_to_floor": 0.55,
}


# ---------------------------------------------------------------------------
# make bench's own measurements


def worker_memory(master_pid: int) -> list[dict[str, float]]:
    """Resident and proportional memory of each gunicorn worker, in MB."""
    workers = psutil.Process(master_pid).children()
    result = []
    for worker in workers:
        info = worker.memory_full_info()
        result.append({"pid": worker.pid, "rss_mb": round(info.rss / 2**20, 1), "pss_mb": round(info.pss / 2**20, 1)})
    return result


def measure_api_batch(size: int = 10_000, repeats: int = 3) -> dict:
    rng = random.Random(10_000)
    records = [random_record(rng) for _ in range(size)]
    body = json.dumps(records).encode()
    timings = []
    for _ in range(repeats):
        before = rows_by_source().get("api", 0)
        connection = http.client.HTTPConnection(HOST, APP_PORT, timeout=120)
        started = time.perf_counter()
        connection.request("POST", "/api/v1/predictions", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        answer = response.read()
        timings.append(time.perf_counter() - started)
        if response.status != 201:
            raise SystemExit(f"batch answered {response.status}: {answer[:300]!r}")
        assert len(json.loads(answer)["predictions"]) == size
        assert rows_by_source().get("api", 0) - before == size
    result = {"records": size, "seconds": [round(t, 3) for t in timings], "best_seconds": round(min(timings), 3),
              "body_mb": round(len(body) / 2**20, 2)}
    log(f"API batch: {result}")
    return result


def measure_predict_csv(size: int = 100_000) -> dict:
    """``manage.py predict_csv`` of ``size`` random rows: its time, the rows stored and written, and its peak RSS."""
    rng = random.Random(size)
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "members.csv", Path(folder) / "scored.csv"
        with open(source, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(RECORD))
            writer.writeheader()
            writer.writerows(random_record(rng) for _ in range(size))
        before = rows_by_source().get("batch", 0)
        seconds, peak_rss_mb = run_measured([sys.executable, "manage.py", "predict_csv", "--no-progress", str(source),
                                             str(target)], cwd=ROOT, env=server_env())
        stored = rows_by_source().get("batch", 0) - before
        with open(target) as handle:
            written = sum(1 for _ in handle) - 1
    result = {"rows": size, "seconds": round(seconds, 2), "rows_stored": stored, "rows_written": written,
              "peak_rss_mb": round(peak_rss_mb, 1)}
    log(f"predict_csv: {result}")
    return result


def run_measured(command: list[str], **options) -> tuple[float, float]:
    """Run a command to its end, its output dropped: (wall seconds, its peak resident memory in MB).

    The peak is GNU time's (``/usr/bin/time -f %M``): the rusage of a child forked from this process
    would count this process's own memory, which the child holds until it execs."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        started = time.perf_counter()
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **options)
        seconds = time.perf_counter() - started
        return seconds, int(report.read().split()[-1]) / 1024  # kilobytes


# ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each one-row load (default 20)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the API, form and floor loads, one after the other (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    parser.add_argument("--quick", action="store_true",
                        help="only the one-row API and form loads and the floor, with their ratios (no batch, "
                             "predict_csv or baseline)")
    args = parser.parse_args()

    print(limits_note(), flush=True)
    log(f"fresh databases {DATABASE_URL} and {FLOOR_DATABASE_URL}")
    database_prepare()
    database_prepare(FLOOR_DATABASE_URL)  # the app's own tables, indexes and foreign keys, for the floor
    logs = Path(tempfile.mkdtemp(prefix="bench-"))

    results: dict = {"machine": {"cores": os.cpu_count()}, "concurrency": args.concurrency, "seconds": args.seconds,
                     "rounds": args.rounds}
    # Each server's gunicorn control socket in this run's folder: the default, ~/.gunicorn/gunicorn.ctl,
    # is shared by every gunicorn of this user, and a new one takes it over from a running one.
    gunicorn = [str(VENV_BIN / "gunicorn"), "-c", "python:insurance_site.gunicorn", "--control-socket", str(logs / "app.ctl"),
                "insurance_site.wsgi:application"]
    app, ready = start_server(gunicorn, APP_PORT, server_env(GUNICORN_BIND=f"{HOST}:{APP_PORT}"), logs / "app.log")
    results["ready_seconds"] = round(ready, 2)
    results["api_sample_charge"] = api_sample_charge()  # bench/alternatives.py checks the other tools against it
    log(f"app ready in {ready:.2f} s")
    floor = start_floor(logs)
    try:
        loads = {
            # label, request, success status, port, (database, source) of the rows it stores, server
            "api": ("API one-row", api_request(), 201, APP_PORT, (DATABASE_URL, "api"), app.pid),
            "form": ("form one-row", form_request(), 302, APP_PORT, (DATABASE_URL, "web"), app.pid),
            "floor": ("floor (bare Django view, one raw INSERT)", floor_request(), 201, FLOOR_PORT,
                      (FLOOR_DATABASE_URL, "api"), floor.pid),
        }
        for _, payload, _, port, _, _ in loads.values():  # warm-up
            run_load(HOST, port, payload, concurrency=args.concurrency, seconds=2)
        # The three loads in turn, round after round, so that a slow spell of a shared machine falls on all of them.
        rounds: dict[str, list[dict]] = {name: [] for name in loads}
        for number in range(args.rounds):
            for name, (label, payload, success, port, rows, pid) in loads.items():
                rounds[name].append(measure_load(f"round {number + 1}: {label}", payload, success, args,
                                                 port=port, rows=rows, server_pid=pid))
        for name, parts in rounds.items():
            results[name] = rounds_merge(parts)
        results["round_ratios"] = [
            {name: round(rounds[name][number]["requests_per_second"] / rounds["floor"][number]["requests_per_second"], 2)
             for name in ("api", "form")}
            for number in range(args.rounds)
        ]
        results["workers"] = worker_memory(app.pid)
        log(f"workers: {results['workers']}")
        if not args.quick:
            results["api_batch"] = measure_api_batch()
    finally:
        stop(floor)
        stop(app)
    if not args.quick:
        results["predict_csv"] = measure_predict_csv()
        results["batch_bound"] = bound.bound_run(env=server_env())  # the same rows, start-up apart (bench/bound.py)
        results["predict_csv_million"] = measure_predict_csv(1_000_000)
        results["batch_bound_million"] = bound.bound_run(rows=1_000_000, env=server_env())
        results["bound_paths"] = bound_paths.paths_run(env=server_env())  # API batch, record_actuals
        results["baseline"] = measure_baseline(logs, args)
    return report(results, args)


def rounds_merge(parts: list[dict]) -> dict:
    """One load's rounds as one: answers and rows summed, requests/s over all its seconds, the median
    round's p50, p99 and CPU time per request (of an even number of rounds, the mean of the middle two)."""
    def median(key: str):
        values = [part[key] for part in parts if key in part]
        return statistics.median(values) if values else None

    merged = {
        "requests": sum(part["requests"] for part in parts),
        "requests_per_second": round(sum(part["requests"] for part in parts)
                                     / sum(part["requests"] / part["requests_per_second"] for part in parts), 1),
        "answered_with_success": sum(part["answered_with_success"] for part in parts),
        "p50_ms": round(median("p50_ms"), 2), "p99_ms": round(median("p99_ms"), 2),  # an even count averages two
        "rounds_requests_per_second": [part["requests_per_second"] for part in parts],
    }
    if all("rows_stored" in part for part in parts):
        merged["rows_stored"] = sum(part["rows_stored"] for part in parts)
    for key in ("server_cpu_us_per_request", "postgres_cpu_us_per_request", "client_cpu_us_per_request"):
        if median(key) is not None:
            merged[key] = round(median(key))
    return merged


def measure_baseline(logs: Path, args) -> dict:
    baseline_cmd = [str(VENV_BIN / "gunicorn"), "-w", "2", "-b", f"{HOST}:{BASELINE_PORT}",
                    "--control-socket", str(logs / "baseline.ctl"), "bench.baseline_app:app"]
    # The baseline has no health URL: it is ready when a prediction answers.
    baseline, _ = start_server(baseline_cmd, BASELINE_PORT, server_env(), logs / "baseline.log",
                               probe=("POST", "/predict_api", json.dumps(RECORD)))
    try:
        payload = build_request("POST", "/predict_api", f"{HOST}:{BASELINE_PORT}", json.dumps(RECORD).encode(),
                                {"Content-Type": "application/json"})
        run_load(HOST, BASELINE_PORT, payload, concurrency=args.concurrency, seconds=2)  # warm-up
        return measure_load("baseline (predict_model per request)", payload, 200, args, port=BASELINE_PORT)
    finally:
        stop(baseline)


def start_floor(logs: Path) -> subprocess.Popen:
    """The floor (bench/floor_app.py) on FLOOR_PORT, same gunicorn settings, on its own database."""
    floor_cmd = [str(VENV_BIN / "gunicorn"), "-c", "python:insurance_site.gunicorn", "--control-socket",
                 str(logs / "floor.ctl"), "bench.floor_app:application"]
    floor_env = server_env(GUNICORN_BIND=f"{HOST}:{FLOOR_PORT}", BENCH_FLOOR_DATABASE_URL=FLOOR_DATABASE_URL,
                           DJANGO_SETTINGS_MODULE="bench.floor_settings")
    floor, _ = start_server(floor_cmd, FLOOR_PORT, floor_env, logs / "floor.log", probe=("GET", "/predict", None))
    return floor


def floor_request() -> bytes:
    return build_request("POST", "/predict", f"{HOST}:{FLOOR_PORT}", json.dumps(RECORD).encode(),
                         {"Content-Type": "application/json"})


def report(results: dict, args) -> int:
    floor = results["floor"]["requests_per_second"]
    base = results["baseline"]["requests_per_second"] if "baseline" in results else None
    checks = []
    for name in ("api", "form"):
        part = results[name]
        part["ratio_to_floor"] = round(part["requests_per_second"] / floor, 2)
        checks += [
            (f"{name}: {part['ratio_to_floor']:.2f} of the floor's requests/s (target {TARGETS[name + '_to_floor']:.2f})",
             part["ratio_to_floor"] >= TARGETS[name + "_to_floor"]),
            (f"{name}: p99 {part['p99_ms']} ms", part["p99_ms"] <= TARGETS["p99_ms"]),
            (f"{name}: {part['rows_stored']} rows stored for {part['answered_with_success']} successful answers "
             f"({part['requests']} answered)",
             part["rows_stored"] == part["answered_with_success"] == part["requests"]),
        ]
        if base:
            part["ratio_to_baseline"] = round(part["requests_per_second"] / base, 1)
            checks.append((f"{name}: {part['ratio_to_baseline']}x baseline requests/s",
                           part["ratio_to_baseline"] >= TARGETS["ratio"]))
    floor_part = results["floor"]
    checks.append((f"floor: {floor_part['rows_stored']} rows stored for {floor_part['answered_with_success']} "
                   f"successful answers ({floor_part['requests']} answered)",
                   floor_part["rows_stored"] == floor_part["answered_with_success"] == floor_part["requests"]))
    worst_rss = max(worker["rss_mb"] for worker in results["workers"])
    checks += [
        (f"worker RSS at most {worst_rss} MB", worst_rss <= TARGETS["worker_rss_mb"]),
        (f"ready {results['ready_seconds']} s after start", results["ready_seconds"] <= TARGETS["ready_seconds"]),
    ]
    if not args.quick:
        checks += [
            (f"API batch of 10,000: {results['api_batch']['best_seconds']} s",
             results["api_batch"]["best_seconds"] <= TARGETS["batch_api_seconds"]),
            (f"predict_csv of 100,000 rows: {results['predict_csv']['seconds']} s, "
             f"{results['predict_csv']['rows_stored']} stored",
             results["predict_csv"]["seconds"] <= TARGETS["predict_csv_seconds"]
             and results["predict_csv"]["rows_stored"] == results["predict_csv"]["rows"]),
            (f"predict_csv of 1,000,000 rows: {results['predict_csv_million']['seconds']} s, peak RSS "
             f"{results['predict_csv_million']['peak_rss_mb']} MB (target {TARGETS['predict_csv_million_rss_mb']:.0f} MB), "
             f"{results['predict_csv_million']['rows_stored']} stored",
             results["predict_csv_million"]["peak_rss_mb"] <= TARGETS["predict_csv_million_rss_mb"]
             and results["predict_csv_million"]["rows_stored"] == results["predict_csv_million"]["rows"]),
        ]
        checks += bound.bound_checks(results["batch_bound"])
        checks += bound.bound_checks(results["batch_bound_million"])
        checks += bound_paths.paths_checks(results["bound_paths"])
    print(f"\nbenchmark: {args.concurrency} concurrent clients, {args.rounds} rounds of {args.seconds:g} s per load, "
          f"{os.cpu_count()} cores; p50, p99 and CPU time per request (the server: gunicorn's master and workers; "
          f"PostgreSQL; the load generator) of the median round")
    print(f"{'':34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'answered':>10}{'stored':>9}"
          f"{'server µs':>11}{'PG µs':>8}{'client µs':>11}")
    for label, key in (("API POST /api/v1/predictions", "api"), ("form POST /", "form"),
                       ("floor: bare Django, raw INSERT", "floor"), ("baseline: predict_model/request", "baseline")):
        if key not in results:
            continue
        part = results[key]
        print(f"{label:34}{part['requests_per_second']:>9}{part['p50_ms']:>9}{part['p99_ms']:>9}"
              f"{part['requests']:>10}{part.get('rows_stored', '-'):>9}{part.get('server_cpu_us_per_request', '-'):>11}"
              f"{part.get('postgres_cpu_us_per_request', '-'):>8}{part.get('client_cpu_us_per_request', '-'):>11}")
    print(f"against the floor, over {args.rounds} rounds of {args.seconds:g} s per load: "
          f"API {results['api']['ratio_to_floor']:.2f} (target {TARGETS['api_to_floor']:.2f}), "
          f"form {results['form']['ratio_to_floor']:.2f} (target {TARGETS['form_to_floor']:.2f}); round by round: "
          + ", ".join(f"API {ratios['api']:.2f} form {ratios['form']:.2f}" for ratios in results["round_ratios"]))
    print(limits_note())
    print("worker memory: " + ", ".join(f"RSS {w['rss_mb']} MB (PSS {w['pss_mb']} MB)" for w in results["workers"]))
    for key in ("batch_bound", "batch_bound_million"):
        if key in results:
            print("\n".join(bound.bound_lines(results[key])))
    if "bound_paths" in results:
        print("\n".join(bound_paths.paths_lines(results["bound_paths"])))
    print()
    failed = verdict(checks)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
