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

The checks live in image_server_checks.py (the running server) and image_command_checks.py (one-off
containers), the builders in image_builders.py and the host helpers in image_host.py; this file
runs them in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

from image_builders import Builder, base_image_choose, builder_choose
from image_command_checks import CommandChecks
from image_host import DATABASE_NAME, CheckFailed, database_recreate, database_url, log_tail, port_in_use, say
from image_server_checks import PORT, WORKERS, ServerChecks


class ImageTest(CommandChecks, ServerChecks):
    """The whole test: builds the image, then runs every check in order (main below)."""

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

    def cleanup(self) -> None:
        self.builder.cleanup()
        if self.database_made:
            try:
                database_recreate(self.server_url, DATABASE_NAME, create=False)
            except (CheckFailed, psycopg2.Error) as exc:
                print(f"image-test: could not drop the database {DATABASE_NAME}: {exc}", file=sys.stderr)


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
