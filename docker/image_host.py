"""docker/image_test.py's host helpers: the check's failure and output, processes on this host, its
ports, and the test PostgreSQL (the test's database, the predictions and the active model stored).

Only the standard library and psycopg2; nothing here knows the builders or the checks.
"""

from __future__ import annotations

import os
import socket
import urllib.error
import urllib.parse
from pathlib import Path

import psycopg2
from psycopg2 import sql

DATABASE_NAME = "image_test"
# The patient's fields, in the order prediction_rows returns them after the id.
FIELDS = ("age", "sex", "bmi", "children", "smoker", "region")


class CheckFailed(Exception):
    """A check did not hold; the message says what was seen."""


def say(message: str) -> None:
    print(f"image-test: {message}", flush=True)


def process_descendants(root: int) -> list[dict]:
    """Every process below root on this host, read from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":\t", 1) for line in (entry / "status").read_text().splitlines() if ":\t" in line)
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:  # it exited meanwhile
            continue
        table[int(entry.name)] = {"pid": int(entry.name), "ppid": int(status["PPid"]), "uid": int(status["Uid"].split()[0]), "cmdline": cmdline}
    found, parents = [], {root}
    while parents:
        children = [p for p in table.values() if p["ppid"] in parents]
        found += children
        parents = {p["pid"] for p in children}
    return found


def gunicorn_split(processes: list[dict]) -> tuple[list[dict], list[dict]]:
    """The gunicorn masters (no gunicorn parent) and workers (a gunicorn parent) among processes."""
    gunicorn = [p for p in processes if "gunicorn" in p["cmdline"]]
    pids = {p["pid"] for p in gunicorn}
    return [p for p in gunicorn if p["ppid"] not in pids], [p for p in gunicorn if p["ppid"] in pids]


def signal_send(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def database_url(server_url: str, name: str) -> str:
    return urllib.parse.urlsplit(server_url)._replace(path=f"/{name}").geturl()


def database_recreate(server_url: str, name: str, *, create: bool) -> None:
    try:
        connection = psycopg2.connect(server_url, connect_timeout=10)
    except psycopg2.OperationalError as exc:
        raise CheckFailed(f"PostgreSQL does not answer at TEST_DATABASE_URL ({exc}".strip() + ")") from None
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            if create:
                cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        connection.close()


def prediction_rows(url: str, source: str) -> list[tuple]:
    connection = psycopg2.connect(url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT p.id, p.age, p.sex, p.bmi, p.children, p.smoker, p.region, p.predicted_charges, m.name "
                "FROM predictor_prediction p JOIN predictor_modelversion m ON m.id = p.model_version_id "
                "WHERE p.source = %s ORDER BY p.id",
                [source],
            )
            return cursor.fetchall()
    finally:
        connection.close()


def active_model_versions(url: str) -> list[str]:
    connection = psycopg2.connect(url, connect_timeout=10)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT name FROM predictor_modelversion WHERE active ORDER BY name")
            return [name for (name,) in cursor.fetchall()]
    finally:
        connection.close()


def http_error_text(exc: urllib.error.HTTPError) -> str:
    return f"{exc.code}: {exc.read()[:500]!r}"


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
