"""docker/image_test.py's checks of the running server: /healthz, the start-up step, the form and the
API stored in PostgreSQL, the languages, the HEALTHCHECK, gunicorn's processes and control socket,
SIGTERM, and a second start on the same database.

A mixin of ImageTest (docker/image_test.py), which gives it builder, database_url and ok.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import ROUND_HALF_UP, Decimal

from image_builders import PROJECT_DIR, STOP_TIMEOUT_SECONDS
from image_host import FIELDS, CheckFailed, active_model_versions, gunicorn_split, http_error_text, prediction_rows, say

if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))
from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT  # noqa: E402  (imports nothing itself)

PORT = 5000
BASE_URL = f"http://127.0.0.1:{PORT}"
WORKERS = 2
HEALTH_TIMEOUT_SECONDS = 240

# The form posts the sample patient, the API the second one (predictor/examples.py).
FORM_PATIENT = SAMPLE_PATIENT
API_PATIENT = SECOND_PATIENT
# What docker/start's start-up step (manage.py activate_model --if-none-active) says.
ACTIVATED = re.compile(r"No model version was active: (\S+) is now the active model")
NOTHING_CHANGED = "{} is the active model; nothing changed"
# Where docker/start puts gunicorn's control socket (the app user has no home).
CONTROL_SOCKET = "/tmp/gunicorn.ctl"


class ServerChecks:
    """The checks against the server the image's entrypoint and command start."""

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
