"""`make bench-cluster`: a scale-out rehearsal. Three app instances behind haproxy, one rolled at a time under load.

    .venv/bin/python -m bench.cluster [--seconds 10] [--concurrency 8] [--json results.json]

Starts three instances of the app as deployed (gunicorn, 2 workers each, ``-c python:insurance_site.gunicorn``,
ports BENCH_CLUSTER_PORT + 1, + 2, + 3) on one PostgreSQL database (BENCH_CLUSTER_DATABASE_URL, default
``postgres://postgres@127.0.0.1:5432/bench_cluster``, recreated), behind haproxy from Debian's packages
(BENCH_CLUSTER_HAPROXY, default /usr/sbin/haproxy) on BENCH_CLUSTER_PORT (default 5400), which checks
``GET /healthz`` and adds ``X-Forwarded-For`` (so the instances run with ``PREDICTOR_PROXY_HOPS=1``).
Then ``--concurrency`` clients send one-row ``POST /api/v1/predictions`` through haproxy for the whole run:
``--seconds`` before, a rolling restart, ``--seconds`` after. The rolling restart does to each instance in
turn what ECS does to a task it replaces: drain it at the balancer (haproxy's runtime API, ``set server
app/webN state drain``) and wait until the balancer holds no request on it (at most the deregistration delay,
BENCH_CLUSTER_DEREGISTRATION_DELAY, default 30 s, the stack's default); send SIGTERM to its gunicorn master
and wait for it to exit; start it again; wait for ``/healthz`` 200 on its own port; ``set server ... state
ready``; wait until haproxy's checks report it UP.

It prints requests/s, p50 and p99 before, during and after; the requests failed (a connection error or
any status other than 201); the rows stored in PostgreSQL against the 201 answers; each restart's timings;
and what each instance served (haproxy's ``show stat``). It exits 1 if any request failed or the rows
stored differ from the 201 answers. The app's rate limits are raised, as in ``make bench``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


from bench.loadgen import LoadResult, build_request, run_load
from bench.harness import (HOST, RAISED_LIMITS, VENV_BIN, database_prepare, limits_note, log, rows_by_source, server_env,
                           start_server, stop, verdict)
from predictor.examples import SAMPLE_PATIENT

DATABASE_URL = os.environ.get("BENCH_CLUSTER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/bench_cluster")
PORT = int(os.environ.get("BENCH_CLUSTER_PORT", "5400"))
HAPROXY = os.environ.get("BENCH_CLUSTER_HAPROXY", "/usr/sbin/haproxy")
DEREGISTRATION_DELAY = float(os.environ.get("BENCH_CLUSTER_DEREGISTRATION_DELAY", "30"))
BACKEND = "app"
INSTANCES = {f"web{n}": PORT + n for n in (1, 2, 3)}
WORKERS = 2  # server_env's WEB_CONCURRENCY, as deployed
# The instances' settings beyond server_env: behind one balancer that appends the client's address.
INSTANCE_ENV = {"PREDICTOR_PROXY_HOPS": "1"}


# ---------------------------------------------------------------------------
# haproxy: its configuration and its runtime API


def haproxy_config(*, port: int, servers: dict[str, int], stats_socket: Path, host: str = HOST) -> str:
    """haproxy's configuration: one front on ``port``, one backend of ``servers`` checked on /healthz.

    Retries: only ``conn-failure``, a connection to an instance that could not be made, so the request
    was never sent; with ``option redispatch`` the retry goes to another instance. Not ``empty-response``
    nor ``response-timeout``: by then the instance may have stored the row, and a POST sent again would
    store a second one for one answer.
    """
    lines = [
        "global",
        "    maxconn 2000",
        f"    stats socket {stats_socket} mode 600 level admin",
        "    log stdout format raw local0 info",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    option dontlog-normal",  # errors, retries, redispatches and 5xx only
        "    option forwardfor",
        "    retries 3",
        "    retry-on conn-failure",
        "    option redispatch 1",
        "    timeout connect 2s",
        "    timeout client 30s",
        "    timeout server 30s",
        "    timeout http-request 10s",
        "    timeout http-keep-alive 10s",
        "    timeout queue 10s",
        "    timeout check 2s",
        "",
        "frontend web",
        f"    bind {host}:{port}",
        f"    default_backend {BACKEND}",
        "",
        f"backend {BACKEND}",
        # The instance with the fewest requests in progress: a freshly started one, still cold, takes fewer.
        "    balance leastconn",
        "    option httpchk",
        f"    http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host {host}",
        "    http-check expect status 200",
        "    default-server check inter 500ms fastinter 250ms downinter 500ms rise 2 fall 2",
    ]
    lines += [f"    server {name} {host}:{server_port}" for name, server_port in servers.items()]
    return "\n".join(lines) + "\n"


def parse_show_stat(text: str, backend: str = BACKEND) -> dict[str, dict[str, str]]:
    """The rows of ``show stat`` (CSV, its header starting with "# ") for the servers of ``backend``, by name."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError(f"not the output of show stat: {text[:200]!r}")
    rows = csv.DictReader([lines[0][2:], *lines[1:]])
    return {row["svname"]: row for row in rows
            if row["pxname"] == backend and row["svname"] not in ("FRONTEND", "BACKEND")}


class Haproxy:
    """haproxy in the foreground (``-db``), driven through its stats socket."""

    def __init__(self, folder: Path, port: int, servers: dict[str, int]):
        self.socket_path = folder / "haproxy.sock"
        self.config_path = folder / "haproxy.cfg"
        self.log_path = folder / "haproxy.log"
        self.config_path.write_text(haproxy_config(port=port, servers=servers, stats_socket=self.socket_path))
        checked = subprocess.run([HAPROXY, "-c", "-q", "-f", str(self.config_path)], capture_output=True, text=True)
        if checked.returncode:
            raise SystemExit(f"haproxy refused {self.config_path}:\n{checked.stdout}{checked.stderr}")
        self.process = subprocess.Popen([HAPROXY, "-db", "-f", str(self.config_path)], stdout=open(self.log_path, "wb"),
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def command(self, text: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
            connection.settimeout(5)
            connection.connect(str(self.socket_path))
            connection.sendall(text.encode() + b"\n")
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def set_state(self, server: str, state: str) -> None:
        answer = self.command(f"set server {BACKEND}/{server} state {state}").strip()
        if answer:
            raise RuntimeError(f"haproxy: set server {server} state {state}: {answer}")

    def servers(self) -> dict[str, dict[str, str]]:
        return parse_show_stat(self.command("show stat"))

    def wait_until(self, test, what: str, timeout: float) -> dict[str, dict[str, str]]:
        """Poll ``show stat`` until ``test(servers)`` holds; return the servers' rows then."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"haproxy exited with {self.process.returncode}; see {self.log_path}")
            try:
                servers = self.servers()
                if test(servers):
                    return servers
            except OSError:  # the socket is not there yet
                pass
            if time.perf_counter() > deadline:
                raise SystemExit(f"haproxy: not {what} after {timeout:g} s; see {self.log_path}")
            time.sleep(0.02)


# ---------------------------------------------------------------------------
# The instances


class Instance:
    def __init__(self, name: str, port: int, folder: Path):
        self.name, self.port, self.folder = name, port, folder
        self.starts = 0
        self.process: subprocess.Popen | None = None

    def start(self) -> float:
        """Start its gunicorn; return the seconds until /healthz answered 200 on its own port."""
        self.starts += 1
        # Its own control socket: the default, ~/.gunicorn/gunicorn.ctl, is shared by every gunicorn of this user.
        command = [str(VENV_BIN / "gunicorn"), "-c", "python:insurance_site.gunicorn",
                   "--control-socket", str(self.folder / f"{self.name}.ctl"), "insurance_site.wsgi:application"]
        env = server_env(DATABASE_URL, GUNICORN_BIND=f"{HOST}:{self.port}", **INSTANCE_ENV)
        self.process, ready = start_server(command, self.port, env, self.folder / f"{self.name}-{self.starts}.log")
        return ready

    def terminate(self, timeout: float) -> float:
        """SIGTERM to the gunicorn master, as ECS sends it; return the seconds until it exited."""
        started = time.perf_counter()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            raise SystemExit(f"{self.name}: gunicorn still running {timeout:g} s after SIGTERM; killed")
        return time.perf_counter() - started


def rolling_restart(haproxy: Haproxy, instance: Instance) -> dict:
    """Drain, SIGTERM, start, ready, UP: one instance replaced as ECS replaces a task."""
    name = instance.name
    began = time.perf_counter()
    haproxy.set_state(name, "drain")
    deadline = began + DEREGISTRATION_DELAY
    while True:  # the deregistration delay: until the balancer holds nothing on it, or the delay is up
        row = haproxy.servers()[name]
        if int(row["scur"]) == 0 or time.perf_counter() > deadline:
            break
        time.sleep(0.01)
    drained = time.perf_counter()
    sessions_left, served_at_drain = int(row["scur"]), int(row["stot"])
    stop_seconds = instance.terminate(timeout=60)
    ready_seconds = instance.start()
    served_while_out = int(haproxy.servers()[name]["stot"]) - served_at_drain
    haproxy.set_state(name, "ready")
    ready = time.perf_counter()
    haproxy.wait_until(lambda servers: servers[name]["status"] == "UP", f"{name} UP", timeout=30)
    up = time.perf_counter()
    result = {
        "instance": name, "drain_seconds": round(drained - began, 3), "sessions_left_at_sigterm": sessions_left,
        "sigterm_to_exit_seconds": round(stop_seconds, 3), "start_to_healthz_seconds": round(ready_seconds, 2),
        "ready_to_up_seconds": round(up - ready, 2), "out_of_service_seconds": round(up - began, 2),
        "served_while_out": served_while_out,
    }
    log(f"{name}: {result}")
    return result


# ---------------------------------------------------------------------------


def split_phases(result: LoadResult, marks: list[float], names: list[str]) -> dict[str, LoadResult]:
    """The load cut at ``marks`` (times from time.perf_counter()) into len(marks) + 1 named phases; the first
    starts with the load, the last ends with it (its last answers, in flight when it was told to stop, included)."""
    ends = [result.started, *marks, math.nextafter(result.started + result.duration, math.inf)]
    return {name: result.window(start, end) for name, start, end in zip(names, ends, ends[1:])}


def served(servers: dict[str, dict[str, str]]) -> dict[str, int]:
    return {name: int(row["stot"]) for name, row in servers.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="load before and after the rolling restart (default 10)")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    print(limits_note(), flush=True)
    log(f"fresh database {DATABASE_URL}")
    database_prepare(DATABASE_URL)
    folder = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    log(f"logs, haproxy's configuration and sockets in {folder}")

    instances = [Instance(name, port, folder) for name, port in INSTANCES.items()]
    haproxy = None
    try:
        for instance in instances:
            log(f"{instance.name} ready on port {instance.port} in {instance.start():.2f} s")
        haproxy = Haproxy(folder, PORT, INSTANCES)
        haproxy.wait_until(lambda servers: all(row["status"] == "UP" for row in servers.values()), "all UP", 30)
        log(f"haproxy on port {PORT}: {', '.join(INSTANCES)} UP")

        payload = build_request("POST", "/api/v1/predictions", f"{HOST}:{PORT}", json.dumps(SAMPLE_PATIENT).encode(),
                                {"Content-Type": "application/json"})
        stop_load = threading.Event()
        loads: list[LoadResult] = []
        failures: list[BaseException] = []

        def load() -> None:
            try:
                loads.append(run_load(HOST, PORT, payload, concurrency=args.concurrency, seconds=3600, stop=stop_load))
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                failures.append(exc)

        snapshots = {"start": served(haproxy.servers())}
        thread = threading.Thread(target=load, name="load")
        thread.start()
        try:
            time.sleep(args.seconds)
            during_start = time.perf_counter()
            snapshots["before"] = served(haproxy.servers())
            restarts = [rolling_restart(haproxy, instance) for instance in instances]
            during_end = time.perf_counter()
            snapshots["during"] = served(haproxy.servers())
            time.sleep(args.seconds)
        finally:
            stop_load.set()
            thread.join()
        if failures:
            raise failures[0]
        final = haproxy.servers()
        snapshots["after"] = served(final)
    finally:
        if haproxy is not None:
            stop(haproxy.process)
        for instance in instances:
            if instance.process is not None and instance.process.poll() is None:
                stop(instance.process)

    result = loads[0]
    phases = split_phases(result, [during_start, during_end], ["before", "during", "after"])
    results = {
        "machine": {"cores": os.cpu_count()}, "concurrency": args.concurrency, "seconds": args.seconds,
        "instances": INSTANCES, "workers_per_instance": WORKERS, "rate_limits": RAISED_LIMITS,
        "phases": {name: phase_summary(part) for name, part in {**phases, "total": result}.items()},
        "rows_stored": sum(rows_by_source(DATABASE_URL).values()), "restarts": restarts,
        "served": {name: {phase: snapshots[phase][name] - snapshots[previous][name]
                          for previous, phase in (("start", "before"), ("before", "during"), ("during", "after"))}
                   for name in INSTANCES},
        "haproxy": {name: {key: row[key] for key in ("stot", "smax", "econ", "eresp", "wretr", "wredis", "status")}
                    for name, row in final.items()},
        "folder": str(folder),
    }
    return report(results, args)


def phase_summary(part: LoadResult) -> dict:
    return {
        "seconds": round(part.duration, 2), "requests_per_second": round(part.rps, 1),
        "p50_ms": round(part.percentile(50) * 1000, 2), "p99_ms": round(part.percentile(99) * 1000, 2),
        "answered": part.answered, "answered_201": part.count(201), "connection_errors": part.errors,
        "other_statuses": {status: n for status, n in sorted(part.statuses.items()) if status != 201},
        "failed": part.errors + part.answered - part.count(201),
    }


def report(results: dict, args) -> int:
    phases, total = results["phases"], results["phases"]["total"]
    print(f"\nscale-out rehearsal: {len(INSTANCES)} instances x {WORKERS} gunicorn workers behind haproxy (leastconn) "
          f"on port {PORT}, one PostgreSQL, {args.concurrency} clients sending one-row POST /api/v1/predictions, "
          f"{os.cpu_count()} cores")
    print(f"{'':30}{'seconds':>9}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'answered':>10}{'201':>8}{'failed':>8}")
    for label, key in (("before", "before"), ("during: rolling restart", "during"), ("after", "after"),
                       ("whole run", "total")):
        part = phases[key]
        print(f"{label:30}{part['seconds']:>9}{part['requests_per_second']:>9}{part['p50_ms']:>9}{part['p99_ms']:>9}"
              f"{part['answered']:>10}{part['answered_201']:>8}{part['failed']:>8}")
    print(f"failed: {total['connection_errors']} connection errors, other statuses {total['other_statuses'] or 'none'}")
    print(f"rows stored in PostgreSQL: {results['rows_stored']}, 201 answers: {total['answered_201']}")
    print(limits_note())
    print("\nrestarts, in turn (drain until haproxy holds no request on it, SIGTERM, start, /healthz 200, ready, UP):")
    print(f"{'':10}{'drain s':>9}{'SIGTERM->exit s':>17}{'start->ready s':>16}{'ready->UP s':>13}"
          f"{'out of service s':>18}{'served while out':>18}")
    for restart in results["restarts"]:
        print(f"{restart['instance']:10}{restart['drain_seconds']:>9}{restart['sigterm_to_exit_seconds']:>17}"
              f"{restart['start_to_healthz_seconds']:>16}{restart['ready_to_up_seconds']:>13}"
              f"{restart['out_of_service_seconds']:>18}{restart['served_while_out']:>18}")
    print("\nrequests each instance served (haproxy show stat: stot by phase; smax, retries, redispatches):")
    print(f"{'':10}{'port':>6}{'before':>9}{'during':>9}{'after':>9}{'total':>9}{'smax':>6}{'retries':>9}{'redisp':>8}"
          f"{'conn err':>10}{'resp err':>10}")
    for name, port in INSTANCES.items():
        by_phase, row = results["served"][name], results["haproxy"][name]
        print(f"{name:10}{port:>6}{by_phase['before']:>9}{by_phase['during']:>9}{by_phase['after']:>9}{row['stot']:>9}"
              f"{row['smax']:>6}{row['wretr']:>9}{row['wredis']:>8}{row['econ']:>10}{row['eresp']:>10}")
    checks = [
        (f"{total['failed']} of {total['answered'] + total['connection_errors']} requests failed "
         "(connection errors and statuses other than 201)", total["failed"] == 0),
        (f"{results['rows_stored']} rows stored for {total['answered_201']} answers 201",
         results["rows_stored"] == total["answered_201"]),
        ("no instance served a request while it was drained or stopped",
         all(restart["served_while_out"] == 0 for restart in results["restarts"])),
    ]
    print()
    failed = verdict(checks)
    print(f"(logs and haproxy's configuration in {results['folder']})")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
