"""A database outage under load: the app as deployed answers 201 or a clean 503, loses nothing, recovers.

The test makes a PostgreSQL cluster of its own (``pg_createcluster``, port 55441, trust auth on
127.0.0.1; never the shared cluster), migrates a database there and starts the app as production
does: gunicorn with 2 workers from ``insurance_site.gunicorn``, DEBUG off, not local mode,
``activate_model --if-none-active`` first. Eight client threads then post one-row predictions,
each with inputs no other request has, while a ninth polls ``/healthz``: 8 s with the database
up, ``pg_ctlcluster ... stop -m fast``, 6 s without it, ``pg_ctlcluster ... start``, 8 s more.

It checks, against the database itself: every answer is a 201 or a 503 whose body is JSON with
a message (no 500, no HTML page, no reset connection); every 201's id is stored with exactly the
inputs sent and no refused request's inputs are stored, so the rows are the 201s, no more, no
fewer; the first 201 after the restart comes within 2 s of it; /healthz answers 503 while the
database is down and 200 again after. The cluster is dropped afterwards, even when the test fails.

It needs root and postgresql-common's ``pg_createcluster`` (as in CI, where it runs as root):
without them it fails under CI (CI=true) and is skipped with the reason elsewhere.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2
import pytest

pytestmark = pytest.mark.fault

PROJECT_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
CLUSTER_NAME = "insurance_fault"
CLUSTER_PORT = 55441
DATABASE_NAME = "insurance_fault"
SERVER_PORTS = range(5351, 5360)
# Set in the server's environment so that the API's rate limits never refuse this load.
RATE_LIMITS = {"PREDICTOR_RATE_LIMIT_ANON": "1000000/s", "PREDICTOR_RATE_LIMIT_TOKEN": "1000000/s"}

CLIENTS = 8
BEFORE_SECONDS = 8.0
OUTAGE_SECONDS = 6.0
AFTER_SECONDS = 8.0
HEALTH_POLL_SECONDS = 0.2
MAX_REQUESTS_PER_CLIENT = 20_000  # a bound on the load whatever the machine's speed
REQUEST_TIMEOUT = 30.0
RECOVERY_LIMIT_SECONDS = 2.0
# Enough answers on either side of the outage that the checks below check something.
MIN_CREATED_EACH_SIDE = 40
MIN_HEALTH_POLLS_DURING_OUTAGE = 3


# ---------------------------------------------------------------------------
# The machine


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes", "on"}


def _cannot_run(reason: str) -> None:
    message = f"The database fault test cannot run here: {reason}"
    if _in_ci():
        pytest.fail(message + " (CI=true: this test must run in CI).", pytrace=False)
    pytest.skip(message)


def _run(*command: str, timeout: float = 120) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} exited with {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


@dataclass
class Cluster:
    """A PostgreSQL cluster of this test's own, controlled with postgresql-common's commands."""

    version: str
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"postgres://postgres@{HOST}:{self.port}/{DATABASE_NAME}"

    def ctl(self, action: str, *options: str) -> None:
        # --skip-systemctl-redirect: act on this cluster directly, not through a systemd unit.
        _run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.name, action, *options)

    def exists(self) -> bool:
        listed = _run("pg_lsclusters", "--no-header").stdout.splitlines()
        return any(line.split()[:2] == [self.version, self.name] for line in listed if line.strip())

    def drop(self) -> None:
        if self.exists():
            _run("pg_dropcluster", "--stop", self.version, self.name)

    def log_tail(self, lines: int = 30) -> str:
        path = Path(f"/var/log/postgresql/postgresql-{self.version}-{self.name}.log")
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.is_file() else ""


def _port_free(port: int) -> bool:
    """Nothing listens on it (connections of an earlier run waiting in TIME-WAIT do not count, as for servers)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


@pytest.fixture
def fault_cluster():
    """Its own cluster on port 55441, created fresh (a leftover of a crashed run is dropped first), dropped after."""
    tools = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "pg_lsclusters")
    missing = [tool for tool in tools if not shutil.which(tool)]
    if missing:
        _cannot_run(f"{', '.join(missing)} not found; install Debian's postgresql and postgresql-common packages.")
    if os.geteuid() != 0:
        _cannot_run("pg_createcluster needs root (it writes /etc/postgresql and makes the cluster owned by postgres).")
    versions = [path.name for path in Path("/etc/postgresql").glob("*") if re.fullmatch(r"\d+(\.\d+)?", path.name)]
    if not versions:
        _cannot_run("no PostgreSQL server version under /etc/postgresql.")
    newest = max(versions, key=lambda version: tuple(int(part) for part in version.split(".")))
    cluster = Cluster(version=newest, name=CLUSTER_NAME, port=CLUSTER_PORT)
    cluster.drop()  # a leftover of an earlier run that crashed before its finaliser
    assert _port_free(CLUSTER_PORT), f"port {CLUSTER_PORT} is taken by something other than this test's cluster"
    try:
        # --auth=trust (initdb's) writes a pg_hba.conf that trusts local and 127.0.0.1 connections;
        # manual start.conf: the init script never starts it at boot.
        _run("pg_createcluster", "--quiet", "--start-conf=manual", "--port", str(cluster.port),
             cluster.version, cluster.name, "--", "--auth=trust")
        # pg_createcluster's -o writes a dotted value unquoted, which PostgreSQL refuses: conf.d instead.
        conf_d = Path(f"/etc/postgresql/{cluster.version}/{cluster.name}/conf.d")
        (conf_d / "fault-test.conf").write_text(f"listen_addresses = '{HOST}'\n")
        cluster.ctl("start")
        admin = psycopg2.connect(host=HOST, port=cluster.port, user="postgres", dbname="postgres", connect_timeout=10)
        admin.autocommit = True  # CREATE DATABASE runs outside a transaction
        with admin.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        admin.close()
        yield cluster
    finally:
        cluster.drop()


# ---------------------------------------------------------------------------
# The app, as production starts it


def _server_environment(cluster: Cluster) -> dict[str, str]:
    # A production start whatever the caller's shell holds (DJANGO_LOCAL_MODE=true, say).
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("DJANGO_", "GUNICORN_", "PREDICTOR_"))}
    env.update(
        DATABASE_URL=cluster.url,
        DJANGO_LOCAL_MODE="false",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="fault-test-secret-key-not-for-anything-else",
        DJANGO_SECURE_COOKIES="false",
        WEB_CONCURRENCY="2",
        **RATE_LIMITS,
    )
    return env


@dataclass
class Server:
    port: int
    process: subprocess.Popen
    log_path: Path

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of its log other than the access log's (those are in the answers already)."""
        logged = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join([line for line in logged if not line.startswith(f"{HOST} - - [")][-lines:])


def _get(port: int, path: str) -> int:
    connection = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.fixture
def fault_server(fault_cluster, tmp_path):
    env = _server_environment(fault_cluster)
    for command in (["migrate_with_lock", "--noinput"], ["activate_model", "--if-none-active"]):
        result = subprocess.run([sys.executable, "manage.py", *command], cwd=PROJECT_DIR, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, f"manage.py {' '.join(command)} failed:\n{result.stdout}{result.stderr}"
    port = next((port for port in SERVER_PORTS if _port_free(port)), None)
    assert port is not None, f"no free port in {SERVER_PORTS.start}-{SERVER_PORTS.stop - 1}"
    env["GUNICORN_BIND"] = f"{HOST}:{port}"
    log_path = tmp_path / "gunicorn.log"
    # Its own control socket and pid file, so it clashes with no other gunicorn on the machine.
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", "python:insurance_site.gunicorn",
               "--control-socket", str(tmp_path / "gunicorn.ctl"), "--pid", str(tmp_path / "gunicorn.pid"),
               "insurance_site.wsgi:application"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = Server(port=port, process=process, log_path=log_path)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, f"gunicorn exited with {process.returncode}:\n{server.log_tail()}"
            assert time.monotonic() < deadline, f"gunicorn not ready after 120 s:\n{server.log_tail()}"
            try:
                if _get(port, "/healthz") == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


# ---------------------------------------------------------------------------
# The load

SEXES, SMOKERS, REGIONS = ("female", "male"), ("no", "yes"), ("southwest", "southeast", "northwest", "northeast")


def patient(number: int) -> dict:
    """The inputs of request ``number``: (age, children, bmi) differ for every number below 1,000,000."""
    age, rest = 18 + number % 47, number // 47
    children, rest = rest % 6, rest // 6
    return {
        "age": age,
        "sex": SEXES[number % 2],
        "bmi": round(16.0 + rest * 0.01, 2),
        "children": children,
        "smoker": SMOKERS[(number // 3) % 2],
        "region": REGIONS[(number // 5) % 4],
    }


def marker(inputs: dict) -> tuple:
    return inputs["age"], inputs["children"], inputs["bmi"]


@dataclass
class Answer:
    sent: float  # time.monotonic() when the request was sent and when its answer was read
    received: float
    inputs: dict | None = None
    status: int | None = None
    content_type: str = ""
    body: bytes = b""
    error: str | None = None  # a connection that failed instead of answering

    def json(self):
        return json.loads(self.body)


@dataclass
class Load:
    port: int
    stop: threading.Event = field(default_factory=threading.Event)
    numbers: itertools.count = field(default_factory=itertools.count)
    predictions: list[Answer] = field(default_factory=list)
    health: list[Answer] = field(default_factory=list)

    def _request(self, method: str, path: str, inputs: dict | None = None) -> Answer:
        body = json.dumps(inputs).encode() if inputs is not None else None
        headers = {"Content-Type": "application/json"} if body else {}
        sent = time.monotonic()
        connection = http.client.HTTPConnection(HOST, self.port, timeout=REQUEST_TIMEOUT)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            answer = Answer(sent=sent, received=0.0, inputs=inputs, status=response.status,
                            content_type=response.getheader("Content-Type", ""), body=response.read())
        except (OSError, http.client.HTTPException) as exc:
            answer = Answer(sent=sent, received=0.0, inputs=inputs, error=repr(exc))
        finally:
            connection.close()
        answer.received = time.monotonic()
        return answer

    def _client(self) -> None:
        answers = []
        for _ in range(MAX_REQUESTS_PER_CLIENT):
            if self.stop.is_set():
                break
            answers.append(self._request("POST", "/api/v1/predictions", patient(next(self.numbers))))
        self.predictions.extend(answers)

    def _health(self) -> None:
        while not self.stop.wait(HEALTH_POLL_SECONDS):
            self.health.append(self._request("GET", "/healthz"))

    def __enter__(self) -> Load:
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(CLIENTS)]
        self.threads.append(threading.Thread(target=self._health, daemon=True))
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        assert not any(thread.is_alive() for thread in self.threads), "a client did not finish"


class DatabaseBack(threading.Thread):
    """When the cluster accepts connections again, seen directly (pg_ctlcluster's start returns seconds later)."""

    def __init__(self, cluster: Cluster):
        super().__init__(daemon=True)
        self.cluster, self.at = cluster, None

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while self.at is None and time.monotonic() < deadline:
            try:
                psycopg2.connect(self.cluster.url, connect_timeout=1).close()
                self.at = time.monotonic()
            except psycopg2.OperationalError:
                time.sleep(0.02)


def stored_rows(cluster: Cluster) -> dict[int, dict]:
    with psycopg2.connect(cluster.url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT id, age, sex, bmi, children, smoker, region, source FROM predictor_prediction")
        names = [column.name for column in cursor.description]
        return {row[0]: dict(zip(names[1:], row[1:])) for row in cursor.fetchall()}


# ---------------------------------------------------------------------------
# The test


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def test_a_database_outage_under_load_answers_201_or_a_clean_503_loses_nothing_and_recovers(
    fault_cluster, fault_server, capsys
):
    with capsys.disabled():
        print(f"\nfault test: server environment sets {', '.join(f'{k}={v}' for k, v in RATE_LIMITS.items())}; "
              f"PostgreSQL {fault_cluster.version}/{fault_cluster.name} on {fault_cluster.port}, "
              f"gunicorn on {fault_server.port}")
    with Load(fault_server.port) as load:
        time.sleep(BEFORE_SECONDS)
        stop_began = time.monotonic()
        fault_cluster.ctl("stop", "-m", "fast")
        stop_done = time.monotonic()
        time.sleep(OUTAGE_SECONDS)
        start_began = time.monotonic()
        database_back = DatabaseBack(fault_cluster)
        database_back.start()
        fault_cluster.ctl("start")
        start_done = time.monotonic()
        database_back.join()
        time.sleep(AFTER_SECONDS)
    answers, health = load.predictions, load.health
    rows = stored_rows(fault_cluster)

    created = [answer for answer in answers if answer.status == 201]
    refused = [answer for answer in answers if answer.status == 503]
    created_ids = {answer.json()["id"] for answer in created}
    # Recovery is counted from the moment PostgreSQL accepts connections again (pg_ctlcluster returns later).
    back_at = database_back.at
    first_created = min((answer for answer in created if answer.sent > stop_done),
                        key=lambda answer: answer.received, default=None)
    health_back = min((poll for poll in health if poll.sent > stop_done and poll.status == 200),
                      key=lambda poll: poll.received, default=None)
    recovery = first_created.received - back_at if first_created and back_at else None
    health_recovery = health_back.received - back_at if health_back and back_at else None
    health_during = [poll for poll in health if poll.sent > stop_done and poll.received < start_began]
    summary = (
        f"fault test: {len(created):,} created, {len(refused):,} clean 503s, "
        f"{len(answers) - len(created) - len(refused):,} other; {len(rows):,} rows stored, "
        f"{len(created_ids - set(rows)):,} lost, {len(set(rows) - created_ids):,} stored for no 201; "
        f"recovery {_seconds(recovery)} (first 201 after PostgreSQL accepted connections again; /healthz 200 "
        f"{_seconds(health_recovery)}); database stopped for {_seconds(start_began - stop_began)} "
        f"(stop took {_seconds(stop_done - stop_began)}; start accepted connections after "
        f"{_seconds(back_at and back_at - start_began)}, "
        f"pg_ctlcluster returned after {_seconds(start_done - start_began)}); "
        f"{CLIENTS} clients, {len(health_during)} /healthz polls during the outage"
    )
    with capsys.disabled():
        print(summary)
    context = (f"\n{summary}\n--- gunicorn log ---\n{fault_server.log_tail()}"
               f"\n--- PostgreSQL log ---\n{fault_cluster.log_tail()}")

    # Every request was answered, with a 201 or a clean 503.
    failed = [answer.error for answer in answers + health if answer.error]
    assert failed == [], f"{len(failed)} requests got no answer, e.g. {failed[:3]}{context}"
    other = [(answer.status, answer.body[:200]) for answer in answers if answer.status not in (201, 503)]
    assert other == [], f"{len(other)} answers neither 201 nor 503, e.g. {other[:3]}{context}"
    for answer in refused:
        assert answer.content_type.startswith("application/json"), (answer.content_type, answer.body[:200])
        body = answer.json()
        assert isinstance(body["detail"], str) and "database" in body["detail"], body
        assert body["errors"] == [], body
    for answer in created:
        body = answer.json()
        assert {key: body[key] for key in answer.inputs} == answer.inputs, body
        assert body["source"] == "api", body

    # The database holds exactly the 201s, each with the inputs sent, and no refused request.
    assert len(created_ids) == len(created)
    assert {answer.json()["id"]: {**answer.inputs, "source": "api"} for answer in created} == rows, context
    assert {marker(row) for row in rows.values()}.isdisjoint(marker(answer.inputs) for answer in refused)
    assert len(rows) == len(created)

    # The outage: nothing refused before it, nothing created during it, and the app recovered at once.
    before = [answer for answer in answers if answer.received < stop_began]
    during = [answer for answer in answers if answer.sent > stop_done and answer.received < start_began]
    assert len(before) >= MIN_CREATED_EACH_SIDE and {answer.status for answer in before} == {201}, (
        f"{len(before)} answers before the outage: {sorted({answer.status for answer in before})}{context}"
    )
    assert during and {answer.status for answer in during} == {503}, {answer.status for answer in during}
    assert back_at is not None, f"PostgreSQL did not accept connections after its start{context}"
    assert first_created is not None, f"no 201 after the restart{context}"
    assert recovery <= RECOVERY_LIMIT_SECONDS, context
    after = [answer for answer in answers if answer.sent > first_created.received]
    assert len(after) >= MIN_CREATED_EACH_SIDE and {answer.status for answer in after} == {201}, (
        f"{len(after)} answers after recovering: {sorted({answer.status for answer in after})}{context}"
    )

    # /healthz: 200, 503 while the database is down, 200 again.
    health_before = [poll for poll in health if poll.received < stop_began]
    assert health_before and {poll.status for poll in health_before} == {200}, [p.status for p in health_before]
    assert len(health_during) >= MIN_HEALTH_POLLS_DURING_OUTAGE, len(health_during)
    assert {poll.status for poll in health_during} == {503}, [poll.status for poll in health_during]
    assert all(poll.json()["database"].startswith("error") for poll in health_during)
    assert health_back is not None, f"/healthz never answered 200 after the restart{context}"
    assert health_recovery <= RECOVERY_LIMIT_SECONDS, context
    assert {poll.status for poll in health if poll.sent > health_back.received} == {200}
