"""`make image-test`: build the image from the Dockerfile, run it the way an ECS task would, use it.

    python docker/image_test.py        (make image-test runs it with the project's virtualenv)

1. Build it with docker where an engine answers, else with buildah, FROM $PYTHON_IMAGE: by
   default the official python:3.11-slim-bookworm or, with buildah and
   ../shared/tools/python-base-image present (no registry reachable), the stand-in it builds.
   Print the image's size and its site-packages' (du -sh).
2. Inside the image (the serving-only install of requirements-serve.txt): load every committed
   model as the app does and check its answers against the golden table (tests/golden) within
   its tolerance, batch and one by one, so a missing dependency or a version drift fails here;
   check that PyCaret's training stack is neither installed nor imported.
3. Check that the image's entrypoint stops at once, naming the variable, without each setting
   it requires, and that it builds DATABASE_URL from DB_HOST, DB_NAME, DB_USER and DB_PASSWORD
   (as on AWS, the password URL-quoted).
4. Start the image's own entrypoint and command with a task definition's environment, its
   DATABASE_URL pointing at a fresh database (image_test) on the test PostgreSQL.
5. Wait for /healthz on port 5000 (printing the seconds from start to the first 200); check that the start-up step activated the default model on
   the fresh database; submit the form (with the CSRF cookie and token) and the JSON API; check
   both rows in PostgreSQL; check that it migrated behind the advisory lock and that gunicorn's
   control socket started; run the image's HEALTHCHECK command beside it; check that gunicorn
   runs as a non-root user with its workers forked from the master.
6. Stop it with SIGTERM, as ECS stops a task; start it again on the same database (a second
   task): nothing to migrate, the start-up step changes nothing; stop it.
7. Every management command of the app, found in the image: each answers --help; train_model
   refuses, saying training needs the full install; model_info, activate_model (another version
   and back), predict, predict_csv and migrate_with_lock run for real against the database, and
   what they store is checked. Then remove the containers and the database.

Every check counts; the first one that fails stops the test with a message, the container's
log and exit status 1. Only the standard library and psycopg2.

Environment: TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres; a user
that may create databases), IMAGE (default localhost/insurance-charges:image-test),
PYTHON_IMAGE (the base image), CONTAINER_BUILDER (docker or buildah, instead of detecting).
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import psycopg2
from psycopg2 import sql

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT  # noqa: E402  (imports nothing itself)
from tests import golden  # noqa: E402  (the golden table's reader and tolerances; the standard library only)

BASE_IMAGE_TOOL = PROJECT_DIR.parent / "shared" / "tools" / "python-base-image"
OFFICIAL_BASE_IMAGE = "python:3.11-slim-bookworm"
PORT = 5000
BASE_URL = f"http://127.0.0.1:{PORT}"
DATABASE_NAME = "image_test"
WORKERS = 2
HEALTH_TIMEOUT_SECONDS = 240
STOP_TIMEOUT_SECONDS = 30
# Settings the entrypoint refuses to start without, alone or (the DB_* ones) with DB_HOST given.
REQUIRED = ("DATABASE_URL", "DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS")
REQUIRED_WITH_DB_HOST = ("DB_NAME", "DB_USER", "DB_PASSWORD")
# A password with every character that must be URL-quoted in DATABASE_URL.
AWKWARD_PASSWORD = "p@ss:w/rd#?%"

# The form posts the sample patient, the API the second one (predictor/examples.py).
FORM_PATIENT = SAMPLE_PATIENT
API_PATIENT = SECOND_PATIENT
FIELDS = ("age", "sex", "bmi", "children", "smoker", "region")
# What docker/start's start-up step (manage.py activate_model --if-none-active) says.
ACTIVATED = re.compile(r"No model version was active: (\S+) is now the active model")
NOTHING_CHANGED = "{} is the active model; nothing changed"
# Where docker/start puts gunicorn's control socket (the app user has no home).
CONTROL_SOCKET = "/tmp/gunicorn.ctl"
# PyCaret's training modules, and the training, plotting and notebook libraries that
# requirements-serve.txt leaves out: the image must hold none of the libraries, and loading and
# predicting must import none of either.
TRAINING_MODULES = (
    "pycaret.regression", "pycaret.classification", "pycaret.time_series",
    "pycaret.internal.pycaret_experiment", "pycaret.containers.models", "pycaret.internal.plots",
)
TRAINING_LIBRARIES = (
    "lightgbm", "numba", "llvmlite", "plotly", "dash", "kaleido", "matplotlib", "yellowbrick",
    "sktime", "pmdarima", "tbats", "IPython", "ipywidgets", "flask",
)
# Run inside the image (python -c, argument: the golden patients and the two lists above as JSON):
# each committed model loaded and verified as the app loads it, its answers for the patients as a
# batch (the pipeline) and one by one (the fast path the form and the API take), the training
# modules that were imported and the training libraries that are installed.
IN_IMAGE_GOLDEN = """
import importlib.util, json, sys
from pathlib import Path
from predictor.ml import artifacts, predict
rows, training_modules, training_libraries = json.loads(sys.argv[1])
answers = {}
for path in sorted(Path("predictor/artifacts").glob("*.pkl")):
    model = artifacts.load_model_artifact(path)
    answers[model.name] = {
        "batch": predict.predict_charges_with_interval(rows, model),
        "one": [predict.predict_charges_with_interval([row], model)[0] for row in rows],
    }
names = training_modules + training_libraries
print("GOLDEN " + json.dumps({
    "answers": answers,
    "imported": sorted(m for m in sys.modules if any(m == n or m.startswith(n + ".") for n in names)),
    "installed": sorted(n for n in training_libraries if importlib.util.find_spec(n) is not None),
}))
"""
# Beyond --help, the management commands run for real (check_commands); any other command the
# app has (a new one) gets --help only, and the test names it.
COMMANDS_RUN = ("train_model", "model_info", "activate_model", "predict", "predict_csv", "migrate_with_lock")


class CheckFailed(Exception):
    """A check did not hold; the message says what was seen."""


def say(message: str) -> None:
    print(f"image-test: {message}", flush=True)


# --- The container builder -------------------------------------------------------------------


class Builder:
    """Builds the image and runs containers from it. With docker each one-off command is a fresh
    `docker run` and the server a named container; with buildah each runs in a working container
    that carries the settings, and the server's commands run in the same one."""

    name: str

    def __init__(self, image: str, log_path: Path):
        self.image = image
        self.log_path = log_path
        self.server: subprocess.Popen | None = None

    def build(self, base_image: str) -> None:
        raise NotImplementedError

    def size(self) -> str:
        raise NotImplementedError

    def config(self) -> dict:
        """The image's Docker config: Entrypoint, Cmd, Healthcheck, Env, User."""
        raise NotImplementedError

    def run(self, env: dict[str, str], argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        """A one-off command (argv[0] replaces the entrypoint) with exactly these settings added."""
        raise NotImplementedError

    def start(self, env: dict[str, str]) -> None:
        """The image's own entrypoint and command, in the background, logging to log_path (afresh)."""
        raise NotImplementedError

    def exec(self, argv: list[str], timeout: float) -> subprocess.CompletedProcess:
        """A command beside the running server, with its settings."""
        raise NotImplementedError

    def processes(self) -> list[dict]:
        """The server's processes: pid, ppid, uid and command line of each."""
        raise NotImplementedError

    def terminate(self) -> None:
        """Send the server SIGTERM, as ECS does to stop a task."""
        raise NotImplementedError

    def cleanup(self) -> None:
        """Stop whatever still runs and remove every container made."""
        raise NotImplementedError

    def server_exited(self) -> bool:
        return self.server is not None and self.server.poll() is not None

    def wait_server(self, timeout: float) -> int | None:
        """The server's exit status, or None when it is still running after timeout seconds."""
        try:
            return self.server.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None


class Docker(Builder):
    name = "docker"

    def __init__(self, image: str, log_path: Path):
        super().__init__(image, log_path)
        self.starts = 0
        self.container = f"image-test-{os.getpid()}"

    def build(self, base_image: str) -> None:
        command(["docker", "build", "--build-arg", f"PYTHON_IMAGE={base_image}", "--tag", self.image, "."])

    def size(self) -> str:
        size = int(output(["docker", "image", "inspect", "--format", "{{.Size}}", self.image]))
        return f"{size / 1e9:.2f} GB" if size >= 1e9 else f"{size / 1e6:.0f} MB"

    def config(self) -> dict:
        return json.loads(output(["docker", "image", "inspect", self.image]))[0]["Config"]

    def run(self, env, argv, timeout):
        return subprocess.run(
            ["docker", "run", "--rm", "--network", "host", *env_options(env), "--entrypoint", argv[0], self.image, *argv[1:]],
            capture_output=True, text=True, timeout=timeout,
        )

    def start(self, env):
        self.starts += 1
        self.container = f"image-test-{os.getpid()}-{self.starts}"
        with self.log_path.open("w") as log:
            self.server = subprocess.Popen(
                ["docker", "run", "--rm", "--name", self.container, "--network", "host", *env_options(env), self.image],
                stdout=log, stderr=subprocess.STDOUT,
            )

    def exec(self, argv, timeout):
        return subprocess.run(["docker", "exec", self.container, *argv], capture_output=True, text=True, timeout=timeout)

    def processes(self):
        lines = output(["docker", "top", self.container, "-eo", "pid,ppid,uid,args"]).splitlines()[1:]
        return [
            {"pid": int(pid), "ppid": int(ppid), "uid": int(uid), "cmdline": args}
            for pid, ppid, uid, args in (line.split(None, 3) for line in lines)
        ]

    def terminate(self):
        subprocess.run(["docker", "kill", "--signal", "TERM", self.container], capture_output=True)

    def cleanup(self):
        if self.server is not None:
            subprocess.run(["docker", "rm", "--force", self.container], capture_output=True)
            self.wait_server(STOP_TIMEOUT_SECONDS)


class Buildah(Builder):
    name = "buildah"

    def __init__(self, image: str, log_path: Path):
        super().__init__(image, log_path)
        self.containers: list[str] = []
        self.server_container: str | None = None

    def build(self, base_image: str) -> None:
        command([
            "buildah", "bud", "--isolation", "chroot", "--network", "host", "--format", "docker", "--layers", "--force-rm",
            "--build-arg", f"PYTHON_IMAGE={base_image}", "--tag", self.image, ".",
        ])

    def size(self) -> str:
        return output(["buildah", "images", "--format", "{{.Size}}", self.image]).splitlines()[0]

    def config(self) -> dict:
        return json.loads(output(["buildah", "inspect", "--type", "image", self.image]))["Docker"]["config"]

    def container_create(self, env: dict[str, str]) -> str:
        container = output(["buildah", "from", "--pull-never", self.image]).strip()
        self.containers.append(container)
        if env:
            output(["buildah", "config", *env_options(env), container])
        return container

    def container_run(self, container: str, argv: list[str]) -> list[str]:
        return ["buildah", "run", "--isolation", "chroot", "--network", "host", container, "--", *argv]

    def container_remove(self, container: str) -> None:
        subprocess.run(["buildah", "rm", container], capture_output=True)
        self.containers.remove(container)

    def run(self, env, argv, timeout):
        container = self.container_create(env)
        try:
            return subprocess.run(self.container_run(container, argv), capture_output=True, text=True, timeout=timeout)
        finally:
            self.container_remove(container)

    def start(self, env):
        self.server_container = self.container_create(env)
        config = self.config()
        argv = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
        with self.log_path.open("w") as log:
            self.server = subprocess.Popen(self.container_run(self.server_container, argv), stdout=log, stderr=subprocess.STDOUT)

    def exec(self, argv, timeout):
        return subprocess.run(self.container_run(self.server_container, argv), capture_output=True, text=True, timeout=timeout)

    def processes(self):
        # buildah's chroot isolation runs the command as descendants of `buildah run` on this host.
        return process_descendants(self.server.pid)

    def terminate(self):
        # The container's main process is the gunicorn master (the entrypoint and start exec it).
        # `buildah run` does not pass SIGTERM on (it kills the command), so the master gets it directly.
        masters, _ = gunicorn_split(self.processes())
        for pid in [p["pid"] for p in masters] or [self.server.pid]:
            signal_send(pid, signal.SIGTERM)

    def cleanup(self):
        if self.server is not None and self.server.poll() is None:
            pids = [p["pid"] for p in self.processes()] + [self.server.pid]
            for pid in pids:
                signal_send(pid, signal.SIGTERM)
            if self.wait_server(STOP_TIMEOUT_SECONDS) is None or any(pid_alive(pid) for pid in pids):
                for pid in pids:
                    signal_send(pid, signal.SIGKILL)
                self.wait_server(5)
        for container in list(self.containers):
            self.container_remove(container)


def builder_choose(image: str, log_path: Path) -> Builder:
    choice = os.environ.get("CONTAINER_BUILDER")
    if not choice:
        if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0:
            choice = "docker"
        elif shutil.which("buildah") or os.access(BASE_IMAGE_TOOL, os.X_OK):
            choice = "buildah"
        else:
            raise CheckFailed("no container builder: install docker (with a running engine) or buildah")
    builders = {"docker": Docker, "buildah": Buildah}
    if choice not in builders:
        raise CheckFailed(f"CONTAINER_BUILDER must be docker or buildah, not {choice!r}")
    return builders[choice](image, log_path)


def base_image_choose(builder: Builder) -> str:
    """$PYTHON_IMAGE; else, with buildah, the shared tool's stand-in (it installs buildah where missing)."""
    if os.environ.get("PYTHON_IMAGE"):
        return os.environ["PYTHON_IMAGE"]
    if builder.name == "buildah" and os.access(BASE_IMAGE_TOOL, os.X_OK):
        # Its progress goes to stderr, shown; the image's name is the last line of its output.
        result = subprocess.run([str(BASE_IMAGE_TOOL)], stdout=subprocess.PIPE, text=True)
        if result.returncode != 0 or not result.stdout.strip():
            raise CheckFailed(f"{BASE_IMAGE_TOOL} failed (exit status {result.returncode}; its output is above)")
        return result.stdout.strip().splitlines()[-1]
    return OFFICIAL_BASE_IMAGE


# --- Small helpers -----------------------------------------------------------------------------


def command(argv: list[str]) -> None:
    """Run a build step in the project directory, its output shown as it comes."""
    if subprocess.run(argv, cwd=PROJECT_DIR).returncode != 0:
        raise CheckFailed(f"`{' '.join(argv[:2])}` failed (its output is above)")


def output(argv: list[str], timeout: float = 120) -> str:
    """The standard output of a command that must succeed."""
    try:
        result = subprocess.run(argv, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise CheckFailed(f"{argv[0]} is not installed") from exc
    if result.returncode != 0:
        raise CheckFailed(f"`{' '.join(argv)}` exited with {result.returncode}: {result.stderr.strip()[-1000:]}")
    return result.stdout


def env_options(env: dict[str, str]) -> list[str]:
    return [f"--env={key}={value}" for key, value in env.items()]


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


# --- The test ----------------------------------------------------------------------------------


class ImageTest:
    def __init__(self, builder: Builder, server_url: str):
        self.builder = builder
        self.server_url = server_url
        self.database_url = database_url(server_url, DATABASE_NAME)
        self.database_made = False
        self.passed = 0

    def ok(self, message: str) -> None:
        self.passed += 1
        say(f"ok: {message}")

    def run(self) -> None:
        base_image = base_image_choose(self.builder)
        say(f"building {self.builder.image} with {self.builder.name} from {base_image}")
        started = time.monotonic()
        self.builder.build(base_image)
        say(f"built in {time.monotonic() - started:.0f} s; image size: {self.builder.size()}; "
            f"site-packages: {self.site_packages_size()} (du -sh in the image)")
        self.check_golden()

        if port_in_use(PORT):
            raise CheckFailed(f"port {PORT} is already in use: stop whatever listens there first")
        database_recreate(self.server_url, DATABASE_NAME, create=True)
        self.database_made = True
        task_env = {
            "DATABASE_URL": self.database_url,
            "DJANGO_SECRET_KEY": f"image-test-{time.time_ns()}-not-a-real-key",
            "DJANGO_ALLOWED_HOSTS": "localhost",
            "DJANGO_SECURE_COOKIES": "false",
            "WEB_CONCURRENCY": str(WORKERS),
        }
        config = self.builder.config()
        entrypoint_and_command = (config.get("Entrypoint") or []) + (config.get("Cmd") or [])
        if not entrypoint_and_command:
            raise CheckFailed("the image has no entrypoint or command")

        self.check_refusals(task_env, entrypoint_and_command)
        self.check_database_url_from_parts(entrypoint_and_command[0])

        say(f"starting: {' '.join(entrypoint_and_command)}")
        started = time.monotonic()
        self.builder.start(task_env)
        health = self.wait_for_health()
        say(f"/healthz answers 200 {time.monotonic() - started:.1f} s after starting (a fresh database: migrating first): {health}")
        if health.get("database") != "ok" or health.get("model") != "ok":
            raise CheckFailed(f"/healthz answers 200 but the database or the model is not ready: {health}")
        self.ok("/healthz reports the database and the model ready")
        model_name = self.check_model_activated(health)

        self.check_form()
        self.check_languages()
        self.check_api()
        say(f"both predictions stored within {time.monotonic() - started:.0f} s of starting")
        if "Took the migration lock" not in self.server_log():
            raise CheckFailed("the container did not migrate behind the advisory lock at start ('Took the migration lock' is not in its log)")
        self.ok("migrated at start behind the advisory lock")
        self.check_control_socket()
        self.check_healthcheck(config)
        self.check_gunicorn()
        self.check_stop()
        self.check_second_start(task_env, model_name)
        self.check_commands(task_env, entrypoint_and_command[0], model_name)

    def site_packages_size(self) -> str:
        """`du -sh` of the image's site-packages (where pip installed the serving set)."""
        script = 'du -sh "$(python -c \'import sysconfig; print(sysconfig.get_paths()["purelib"])\')" | cut -f1'
        result = self.builder.run({}, ["sh", "-c", script], timeout=120)
        if result.returncode != 0:
            raise CheckFailed(f"du of site-packages in the image failed: {result.stderr.strip()[-500:]}")
        return result.stdout.strip()

    def check_golden(self) -> None:
        """Inside the image: every committed model answers the golden table within its tolerance; no training stack."""
        rows = golden.inputs()
        argument = json.dumps([rows, TRAINING_MODULES, TRAINING_LIBRARIES])
        result = self.builder.run({}, ["python", "-c", IN_IMAGE_GOLDEN, argument], timeout=300)
        found = [line.removeprefix("GOLDEN ") for line in result.stdout.splitlines() if line.startswith("GOLDEN ")]
        if result.returncode != 0 or not found:
            raise CheckFailed(f"loading the committed models in the image failed ({result.returncode}): "
                              f"{(result.stdout + result.stderr).strip()[-2000:]}")
        report = json.loads(found[-1])
        if report["installed"]:
            raise CheckFailed(f"the image holds training-only libraries: {', '.join(report['installed'])} (requirements-serve.txt)")
        if report["imported"]:
            raise CheckFailed(f"loading and predicting in the image imported training modules: {', '.join(report['imported'][:20])}")
        answers, checked = report["answers"], []
        for name in golden.models():
            if name not in answers:
                raise CheckFailed(f"the golden table has answers of {name}, but the image has no {name}.pkl")
            worst = 0.0
            for path in ("batch", "one"):
                for patient, got, want in zip(rows, answers[name][path], golden.answers(name), strict=True):
                    for value, expected in zip(got, (want.charges, want.low, want.high)):
                        if (value is None) != (expected is None):
                            raise CheckFailed(f"{name} ({path}) answered {got} for {patient}; the golden table has {want}")
                        if value is not None:
                            worst = max(worst, abs(value - float(expected)))
                            if worst > golden.tolerance(name) + 1e-9:
                                raise CheckFailed(f"{name} ({path}) answered {got} for {patient}: off by ${worst:,.4f} from the "
                                                  f"golden table ({want}), more than ${golden.tolerance(name):,.2f}")
            checked.append(f"{name} within ${golden.tolerance(name):,.2f} (worst ${worst:.4f})")
        self.ok(f"the golden predictions in the image, {len(rows)} patients as a batch and one by one: {'; '.join(checked)}")
        self.ok(f"no training stack in the image: {len(TRAINING_LIBRARIES)} training libraries absent, and loading "
                "and predicting imported no PyCaret training module")
        others = sorted(set(answers) - set(golden.models()))
        if others:
            say(f"also loaded and predicted in the image (not in the golden table): {', '.join(others)}")

    def check_commands(self, task_env: dict[str, str], entrypoint: str, model_name: str) -> None:
        """Every management command of the app, in the image: --help, train_model's refusal, and real runs."""

        def manage(*argv: str, timeout: float = 300) -> subprocess.CompletedProcess:
            return self.builder.run(task_env, [entrypoint, "python", "manage.py", *argv], timeout=timeout)

        def said(result: subprocess.CompletedProcess) -> str:
            return (result.stdout + result.stderr).strip()[-1500:]

        code = ("import json; from django.core.management import get_commands; "
                "print('COMMANDS', json.dumps(sorted(n for n, app in get_commands().items() if app == 'predictor')))")
        result = manage("shell", "-c", code)
        found = [line.removeprefix("COMMANDS ") for line in result.stdout.splitlines() if line.startswith("COMMANDS ")]
        if result.returncode != 0 or not found:
            raise CheckFailed(f"listing the management commands in the image failed ({result.returncode}): {said(result)}")
        commands = json.loads(found[-1])

        loop = 'for c in "$@"; do if python manage.py "$c" --help > /dev/null; then echo "HELP ok $c"; else echo "HELP failed $c"; fi; done'
        result = self.builder.run(task_env, [entrypoint, "bash", "-c", loop, "bash", *commands], timeout=600)
        failed = [line.split()[-1] for line in result.stdout.splitlines() if line.startswith("HELP failed")]
        if result.returncode != 0 or failed or result.stdout.count("HELP ok") != len(commands):
            raise CheckFailed(f"in the image, --help failed for {', '.join(failed) or '?'}: {result.stderr.strip()[-2000:]}")
        self.ok(f"every management command answers --help in the image: {', '.join(commands)}")

        result = manage("train_model", "--data", "/tmp/insurance.csv")
        refusal = [line for line in result.stderr.splitlines() if "Training needs the full install" in line]
        if result.returncode == 0 or not refusal:
            raise CheckFailed(f"train_model in the image did not refuse saying training needs the full install: {said(result)}")
        self.ok(f"train_model refuses in the image (status {result.returncode}): {refusal[0][:110]}...")

        result = manage("model_info", "--json")
        card = json.loads(result.stdout) if result.returncode == 0 else {}
        if card.get("name") != model_name:
            raise CheckFailed(f"model_info --json in the image did not print the card of {model_name}: {said(result)}")
        self.ok(f"model_info --json prints the active model's card ({model_name}, holdout R² {card['holdout']['r2']})")

        other = next((name for name in golden.models() if name != model_name), None)
        result = manage("activate_model", "--list")
        listed = [name for name in golden.models() if name in result.stdout]
        if result.returncode != 0 or len(listed) != len(golden.models()):
            raise CheckFailed(f"activate_model --list in the image does not list {golden.models()}: {said(result)}")
        if other is None:
            raise CheckFailed("the golden table has no second model to activate")
        result = manage("activate_model", other)
        if result.returncode != 0 or f"{other} is now the active model" not in result.stdout or active_model_versions(self.database_url) != [other]:
            raise CheckFailed(f"activate_model {other} in the image did not make it the active model: {said(result)}")

        patient = SAMPLE_PATIENT
        result = manage("predict", *[f"--{key}={patient[key]}" for key in FIELDS])
        rows = prediction_rows(self.database_url, "shell")
        want = golden.answer_for(patient, other).charges
        if result.returncode != 0 or len(rows) != 1 or rows[0][8] != other or abs(rows[0][7] - want) > Decimal(str(golden.tolerance(other))):
            raise CheckFailed(f"predict in the image with {other} active: {said(result)}; stored {rows} (golden ${want:,})")
        self.ok(f"activate_model {other}, then predict stores ${rows[0][7]:,} by {other} (golden ${want:,})")

        result = manage("activate_model", model_name)
        if result.returncode != 0 or active_model_versions(self.database_url) != [model_name]:
            raise CheckFailed(f"activate_model {model_name} in the image did not make it active again: {said(result)}")
        patients = golden.inputs()
        table = "\n".join([",".join(FIELDS)] + [",".join(str(row[key]) for key in FIELDS) for row in patients]) + "\n"
        script = 'printf "%s" "$1" > /tmp/patients.csv && exec python manage.py predict_csv /tmp/patients.csv - --no-progress'
        result = self.builder.run(task_env, [entrypoint, "bash", "-c", script, "bash", table], timeout=300)
        lines = [line for line in result.stdout.splitlines() if line.strip()]
        scored = [Decimal(line.rsplit(",", 1)[-1]) for line in lines[1:]]
        wanted = [g.charges for g in golden.answers(model_name)]
        stored = prediction_rows(self.database_url, "batch")
        tolerance = Decimal(str(golden.tolerance(model_name)))
        if (result.returncode != 0 or not lines or not lines[0].endswith("predicted_charges") or len(scored) != len(wanted)
                or any(abs(a - b) > tolerance for a, b in zip(scored, wanted)) or [r[7] for r in stored] != scored):
            raise CheckFailed(f"predict_csv in the image: {said(result)}; stored {len(stored)} rows")
        self.ok(f"activate_model {model_name} again, then predict_csv scores the {len(wanted)} golden patients within "
                f"${tolerance} of the table, all stored as one batch")

        result = manage("migrate_with_lock", "--noinput")
        if result.returncode != 0 or "No migrations to apply" not in result.stdout:
            raise CheckFailed(f"migrate_with_lock in the image: {said(result)}")
        self.ok("migrate_with_lock in the image: no migrations to apply")
        help_only = sorted(set(commands) - set(COMMANDS_RUN))
        if help_only:
            say(f"run with --help only (no real run defined in COMMANDS_RUN): {', '.join(help_only)}")

    def server_log(self) -> str:
        return self.builder.log_path.read_text(errors="replace")

    def check_model_activated(self, health: dict) -> str:
        """On the fresh database the start-up step activated the default artifact, and said so."""
        found = ACTIVATED.search(self.server_log())
        if not found:
            raise CheckFailed(
                "the start-up step did not say it activated the default model on the fresh database "
                "('No model version was active: ... is now the active model' is not in the container's log)"
            )
        name = found.group(1)
        active = active_model_versions(self.database_url)
        if active != [name] or health.get("model_version") != name:
            raise CheckFailed(f"the start-up step activated {name}, but PostgreSQL's active versions are {active} "
                              f"and /healthz serves {health.get('model_version')!r}")
        self.ok(f"the start-up step activated the default model {name} on the fresh database; /healthz serves it")
        return name

    def check_control_socket(self) -> None:
        """gunicorn's control socket starts where the app user may write (its home does not exist)."""
        log = self.server_log()
        errors = [line for line in log.splitlines() if "Control server error" in line]
        if errors:
            raise CheckFailed(f"gunicorn's control socket did not start: {errors[0]}")
        if f"Control socket listening at {CONTROL_SOCKET}" not in log:
            raise CheckFailed(f"gunicorn did not say 'Control socket listening at {CONTROL_SOCKET}'")
        self.ok(f"gunicorn's control socket listens at {CONTROL_SOCKET}, no control server error")

    def check_second_start(self, task_env: dict[str, str], model_name: str) -> None:
        """A second task on the same database: nothing to migrate, and the start-up step changes nothing."""
        say("starting again on the same database")
        started = time.monotonic()
        self.builder.start(task_env)
        self.wait_for_health()
        say(f"/healthz answers 200 {time.monotonic() - started:.1f} s after the second start (nothing to migrate)")
        log = self.server_log()
        if NOTHING_CHANGED.format(model_name) not in log or ACTIVATED.search(log):
            raise CheckFailed(f"on the second start the start-up step did not say '{NOTHING_CHANGED.format(model_name)}'")
        if "No migrations to apply" not in log:
            raise CheckFailed("on the second start the container did not say 'No migrations to apply'")
        if active_model_versions(self.database_url) != [model_name]:
            raise CheckFailed(f"after the second start the active versions are {active_model_versions(self.database_url)}, not [{model_name!r}]")
        self.builder.terminate()
        status = self.builder.wait_server(STOP_TIMEOUT_SECONDS)
        if status != 0:
            raise CheckFailed(f"the second start did not stop cleanly after SIGTERM (status {status})")
        self.ok(f"a second start on the same database: no migrations to apply, '{NOTHING_CHANGED.format(model_name)}'")

    def check_refusals(self, task_env: dict[str, str], entrypoint_and_command: list[str]) -> None:
        """Without each required setting, the entrypoint stops at once and names it."""
        cases = [(name, {k: v for k, v in task_env.items() if k != name}) for name in REQUIRED]
        parts = {"DB_HOST": "127.0.0.1", "DB_NAME": DATABASE_NAME, "DB_USER": "postgres", "DB_PASSWORD": "x"}
        without_url = {k: v for k, v in task_env.items() if k != "DATABASE_URL"}
        cases += [(name, {**without_url, **{k: v for k, v in parts.items() if k != name}}) for name in REQUIRED_WITH_DB_HOST]
        for name, env in cases:
            context = "" if name in REQUIRED else " (with DB_HOST given)"
            try:
                result = self.builder.run(env, entrypoint_and_command, timeout=120)
            except subprocess.TimeoutExpired:
                raise CheckFailed(f"without {name}{context} the container was still running after 120 s") from None
            said = (result.stdout + result.stderr).strip()
            if result.returncode == 0:
                raise CheckFailed(f"without {name}{context} the container exited with status 0: {said[-500:]}")
            reason = [line for line in said.splitlines() if f"{name} is required" in line]
            if not reason:
                raise CheckFailed(f"without {name}{context} the container did not say '{name} is required'; it said: {said[-500:]}")
            self.ok(f"without {name}{context} it stops at once (status {result.returncode}): {reason[0][:100]}...")

    def check_database_url_from_parts(self, entrypoint: str) -> None:
        """On AWS the task gets the database URL as parts, the password from the RDS-managed secret."""
        parts = {"USER": "postgres", "PASSWORD": AWKWARD_PASSWORD, "HOST": "127.0.0.1", "PORT": "5432", "NAME": DATABASE_NAME}
        env = {
            "DB_HOST": parts["HOST"], "DB_PORT": parts["PORT"], "DB_NAME": parts["NAME"], "DB_USER": parts["USER"],
            "DB_PASSWORD": parts["PASSWORD"], "DJANGO_SECRET_KEY": "x", "DJANGO_ALLOWED_HOSTS": "localhost",
        }
        code = (
            "import json; from django.conf import settings; d = settings.DATABASES['default']; "
            f"print('SEEN', json.dumps({{k: str(d[k]) for k in {list(parts)!r}}}))"
        )
        result = self.builder.run(env, [entrypoint, "python", "manage.py", "shell", "-c", code], timeout=300)
        seen = [line.removeprefix("SEEN ") for line in result.stdout.splitlines() if line.startswith("SEEN ")]
        if result.returncode != 0 or not seen:
            raise CheckFailed(f"manage.py shell with DB_* parts exited with {result.returncode}: {(result.stdout + result.stderr)[-1000:]}")
        if json.loads(seen[-1]) != parts:
            raise CheckFailed(f"DB_HOST, DB_PORT, DB_NAME, DB_USER and DB_PASSWORD became {seen[-1]}, not {json.dumps(parts)}")
        self.ok("DATABASE_URL built from DB_* parts (the password URL-quoted and read back intact)")

    def wait_for_health(self) -> dict:
        deadline = time.monotonic() + HEALTH_TIMEOUT_SECONDS
        last = "no answer"
        while time.monotonic() < deadline:
            if self.builder.server_exited():
                raise CheckFailed(f"the container exited with status {self.builder.server.returncode} before /healthz answered")
            try:
                with urllib.request.urlopen(f"{BASE_URL}/healthz", timeout=5) as response:
                    return json.load(response)
            except urllib.error.HTTPError as exc:
                last = f"HTTP {http_error_text(exc)}"
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise CheckFailed(f"/healthz did not answer 200 within {HEALTH_TIMEOUT_SECONDS} s of starting (last: {last})")

    def check_form(self) -> None:
        """A real form submission, with the cookie and token a browser would send, stored as a 'web' row."""
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        try:
            with opener.open(f"{BASE_URL}/", timeout=30) as response:
                page = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise CheckFailed(f"GET / answered {http_error_text(exc)}") from None
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if not token:
            raise CheckFailed("the form page has no CSRF token")
        body = urllib.parse.urlencode({**FORM_PATIENT, "csrfmiddlewaretoken": token.group(1)}).encode()
        request = urllib.request.Request(f"{BASE_URL}/", data=body, headers={"Referer": f"{BASE_URL}/"})
        try:
            with opener.open(request, timeout=60) as response:
                if "/result/" not in response.url:
                    raise CheckFailed(f"the form POST did not redirect to a result page (it ended at {response.url})")
                page = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise CheckFailed(f"the form POST answered {http_error_text(exc)}") from None
        # The page shows whole dollars; the exact stored amount rides along in data-charges.
        charge = re.search(r'id="predicted-charges" data-charges="([0-9.]+)">\s*(\$[0-9,]+)<', page)
        if not charge:
            raise CheckFailed("the result page shows no charge in dollars (no id=\"predicted-charges\")")

        rows = prediction_rows(self.database_url, "web")
        expected = tuple(FORM_PATIENT[key] for key in FIELDS)
        if len(rows) != 1 or rows[0][1:7] != expected:
            raise CheckFailed(f"expected the one submitted patient {expected} as a 'web' row in PostgreSQL, found {rows}")
        whole = f"${rows[0][7].quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"
        if (Decimal(charge.group(1)), charge.group(2)) != (rows[0][7], whole):
            raise CheckFailed(f"the result page shows {charge.group(2)} ({charge.group(1)}) but PostgreSQL stored {rows[0][7]}")
        self.ok(f"the form (with its CSRF token) predicts {charge.group(2)}, stored in PostgreSQL as prediction {rows[0][0]}")

    def check_languages(self) -> None:
        """Simplified Chinese from the image: the site's own catalogue and Django's admin catalogue."""
        pages = {"/": "年龄（岁）", "/admin/login/": "登录"}  # "Age (years)" (ours), "Log in" (Django's)
        for path, words in pages.items():
            request = urllib.request.Request(f"{BASE_URL}{path}", headers={"Accept-Language": "zh-CN"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    page = response.read().decode()
            except urllib.error.HTTPError as exc:
                raise CheckFailed(f"GET {path} in Chinese answered {http_error_text(exc)}") from None
            if words not in page:
                raise CheckFailed(f"GET {path} with Accept-Language: zh-CN does not read {words!r}: a catalogue is missing")
        self.ok("Simplified Chinese reaches the form (the site's catalogue) and the admin (Django's)")

    def check_api(self) -> None:
        """One record posted to the JSON API: 201 with the prediction, stored as an 'api' row."""
        request = urllib.request.Request(
            f"{BASE_URL}/api/v1/predictions",
            data=json.dumps(API_PATIENT).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, created = response.status, json.load(response)
        except urllib.error.HTTPError as exc:
            raise CheckFailed(f"POST /api/v1/predictions answered {http_error_text(exc)}, not 201") from None
        if status != 201:
            raise CheckFailed(f"POST /api/v1/predictions answered {status}, not 201: {created}")

        rows = prediction_rows(self.database_url, "api")
        expected = tuple(API_PATIENT[key] for key in FIELDS)
        if len(rows) != 1 or rows[0][1:7] != expected:
            raise CheckFailed(f"expected the one API patient {expected} as an 'api' row in PostgreSQL, found {rows}")
        answered = {key: created.get(key) for key in ("id", "source", "predicted_charges")}
        stored = {"id": rows[0][0], "source": "api", "predicted_charges": rows[0][7]}
        if {**answered, "predicted_charges": Decimal(str(answered["predicted_charges"]))} != stored:
            raise CheckFailed(f"the API answered {answered} but PostgreSQL stored {stored}")
        self.ok(f"the JSON API answers 201 with ${rows[0][7]:,}, stored in PostgreSQL as prediction {rows[0][0]}")

    def check_healthcheck(self, config: dict) -> None:
        test = (config.get("Healthcheck") or {}).get("Test") or []
        if not test or test[0] == "NONE":
            raise CheckFailed("the image has no HEALTHCHECK")
        argv = test[1:] if test[0] == "CMD" else ["/bin/sh", "-c", test[1]]
        result = self.builder.exec(argv, timeout=60)
        if result.returncode != 0:
            raise CheckFailed(f"the image's HEALTHCHECK failed against the running server ({result.returncode}): {(result.stdout + result.stderr)[-500:]}")
        self.ok(f"HEALTHCHECK passes: {' '.join(argv)}")

    def check_gunicorn(self) -> None:
        """One gunicorn master with its workers forked from it, none of them root."""
        masters, workers = gunicorn_split(self.builder.processes())
        gunicorn = masters + workers
        seen = ", ".join(f"pid {p['pid']} (parent {p['ppid']}, uid {p['uid']})" for p in gunicorn) or "none"
        if len(masters) != 1 or len(workers) != WORKERS or any(p["ppid"] != masters[0]["pid"] for p in workers):
            raise CheckFailed(f"expected one gunicorn master and {WORKERS} workers forked from it, found: {seen}")
        if any(p["uid"] == 0 for p in gunicorn):
            raise CheckFailed(f"gunicorn runs as root: {seen}")
        uids = sorted({p["uid"] for p in gunicorn})
        self.ok(f"gunicorn (master and {WORKERS} forked workers) runs as uid {', '.join(map(str, uids))}, not root")

    def check_stop(self) -> None:
        self.builder.terminate()
        status = self.builder.wait_server(STOP_TIMEOUT_SECONDS)
        if status is None:
            raise CheckFailed(f"the container was still running {STOP_TIMEOUT_SECONDS} s after SIGTERM")
        if status != 0:
            raise CheckFailed(f"the container exited with status {status} after SIGTERM, not 0")
        self.ok(f"SIGTERM stops it cleanly within {STOP_TIMEOUT_SECONDS} s (status 0)")

    def cleanup(self) -> None:
        self.builder.cleanup()
        if self.database_made:
            try:
                database_recreate(self.server_url, DATABASE_NAME, create=False)
            except (CheckFailed, psycopg2.Error) as exc:
                print(f"image-test: could not drop the database {DATABASE_NAME}: {exc}", file=sys.stderr)


def log_tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main() -> int:
    # make and CI stop a job with SIGTERM: clean up then too.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ["BUILDAH_ISOLATION"] = "chroot"
    server_url = os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    image = os.environ.get("IMAGE", "localhost/insurance-charges:image-test")
    started = time.monotonic()
    log_file = tempfile.NamedTemporaryFile(prefix="image-test-server-", suffix=".log", delete=False)
    log_file.close()
    log_path = Path(log_file.name)
    test = None
    try:
        test = ImageTest(builder_choose(image, log_path), server_url)
        test.run()
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        # A command that hangs is a failure too; TimeoutExpired names the command and the time.
        print(f"image-test: FAILED: {exc}", file=sys.stderr)
        tail = log_tail(log_path)
        if tail:
            print(f"image-test: the container's log (last lines):\n{tail}", file=sys.stderr)
        print(f"image-test: {test.passed if test else 0} passed, 1 failed", file=sys.stderr)
        return 1
    finally:
        try:
            if test is not None:
                test.cleanup()
        finally:
            log_path.unlink(missing_ok=True)
    print(f"image-test: {test.passed} passed, 0 failed, in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
