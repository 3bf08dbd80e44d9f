"""The settings: what stops a production start, what local mode relaxes, and `.env.example`
against the variables the code reads.

Settings are read once per process, so each start here is a subprocess whose environment holds
PATH and the variables under test only, run from an empty working directory.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = PROJECT_DIR / ".env.example"

# Where the app reads its environment when it runs: the settings and gunicorn's settings, the
# app, and the container's entrypoint and start script (bench/, deploy/ and tests/ are tools).
SCANNED_FOLDERS = ["insurance_site", "predictor"]
SCANNED_SCRIPTS = ["docker/entrypoint", "docker/start"]
NAME = r"([A-Z][A-Z0-9_]*)"
READS = [
    re.compile(rf"\benv(?:\.(?:str|bool|int|float|list|tuple|dict|json|url|path|db|db_url))?\(\s*['\"]{NAME}['\"]"),
    re.compile(rf"['\"]{NAME}['\"]\s+(?:not\s+)?in\s+(?:env|os\.environ)\b"),
    re.compile(rf"\bos\.environ\.get\(\s*['\"]{NAME}['\"]"),
    re.compile(rf"\bos\.environ\[\s*['\"]{NAME}['\"]\s*\]"),
    re.compile(rf"\bos\.getenv\(\s*['\"]{NAME}['\"]"),
    # Shell: ${NAME}, ${NAME:-default}, ${NAME:?message} (lower-case names are the scripts' own).
    re.compile(rf"\$\{{{NAME}(?::?[-?=+][^}}]*)?\}}"),
]

# A start that is not in local mode, with everything production requires. Nothing connects to
# this database: loading settings and `manage.py check` open no connection.
PRODUCTION = {"DATABASE_URL": "postgres://nobody@127.0.0.1:5432/never_connected", "DJANGO_SECRET_KEY": "a-test-only-key"}

PROBE = """
import json

import django

django.setup()
from django.conf import settings

database = settings.DATABASES["default"]
print(json.dumps({
    "engine": database["ENGINE"],
    "name": str(database["NAME"]),
    "secret_key": settings.SECRET_KEY,
    "session_cookie_secure": settings.SESSION_COOKIE_SECURE,
    "csrf_cookie_secure": settings.CSRF_COOKIE_SECURE,
    "debug": settings.DEBUG,
    "pipeline_path": str(settings.PREDICTOR_PIPELINE_PATH),
}))
"""


def variables_read() -> dict[str, set[str]]:
    """Each environment variable the scanned code reads, with the files that read it."""
    files = [path for folder in SCANNED_FOLDERS for path in (PROJECT_DIR / folder).rglob("*.py")]
    files += [PROJECT_DIR / script for script in SCANNED_SCRIPTS]
    found: dict[str, set[str]] = {}
    for path in files:
        text = path.read_text()
        for pattern in READS:
            for name in pattern.findall(text):
                found.setdefault(name, set()).add(str(path.relative_to(PROJECT_DIR)))
    return found


def env_example() -> dict[str, str | None]:
    """The variables `.env.example` names: NAME=value, or None for a commented-out `# NAME=`."""
    names: dict[str, str | None] = {}
    for line in ENV_EXAMPLE.read_text().splitlines():
        match = re.fullmatch(rf"(#\s*)?{NAME}=(.*)", line.strip())
        if match:
            names[match[2]] = None if match[1] else match[3]
    return names


def start(cwd: Path, *args: str, **variables: str) -> subprocess.CompletedProcess:
    """Run Python on the project with only PATH and the given variables in its environment."""
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": str(PROJECT_DIR),
        "PYTHONDONTWRITEBYTECODE": "1",
        "DJANGO_SETTINGS_MODULE": "insurance_site.settings",
        **variables,
    }
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def settings_with(cwd: Path, **variables: str) -> dict:
    result = start(cwd, "-c", PROBE, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def project_files() -> dict[str, tuple[int, int] | None]:
    """Every path in the project (not .git or a virtualenv): size and modification time, or None.

    Files that git ignores and that exist already (PyCaret's logs.log, caches) are listed by name
    only: other code in the test process may append to them. A new file shows either way.
    """
    ignored = set(
        subprocess.run(
            ["git", "ls-files", "--others", "--ignored", "--exclude-standard"],
            cwd=PROJECT_DIR, capture_output=True, text=True, check=True,
        ).stdout.splitlines()
    )
    listing = {}
    for folder, dirs, files in os.walk(PROJECT_DIR):
        dirs[:] = [name for name in dirs if name != ".git" and not name.startswith(".venv")]
        for name in files:
            path = Path(folder, name)
            relative = str(path.relative_to(PROJECT_DIR))
            stat = path.lstat()
            listing[relative] = None if relative in ignored else (stat.st_size, stat.st_mtime_ns)
    return listing


# --- .env.example against the code ------------------------------------------------------------


def test_the_scan_finds_variables_read_in_each_way_and_place():
    found = variables_read()

    assert "insurance_site/settings.py" in found["DJANGO_LOCAL_MODE"]  # env.bool
    assert "insurance_site/settings.py" in found["DATABASE_URL"]  # env.str
    assert "insurance_site/settings.py" in found["PREDICTOR_PIPELINE_PATH"]  # across lines
    assert "insurance_site/gunicorn.py" in found["WEB_CONCURRENCY"]  # os.environ.get
    assert "docker/entrypoint" in found["DB_PASSWORD"]  # ${NAME:-}
    assert "docker/entrypoint" in found["DB_PORT"]  # os.environ.get inside the script's Python
    assert "docker/start" in found["DJANGO_MIGRATE_ON_START"]
    assert not {name for name in found if name.islower()}


def test_every_variable_the_code_reads_is_in_env_example():
    missing = {name: sorted(files) for name, files in variables_read().items() if name not in env_example()}

    assert not missing, f"add these to .env.example (read in): {missing}"


def test_env_example_names_only_variables_the_code_reads():
    unread = set(env_example()) - set(variables_read())

    assert not unread, f".env.example names variables nothing reads: {sorted(unread)}"


def test_the_example_environment_is_a_valid_production_start_with_the_committed_model(tmp_path):
    example = {name: value for name, value in env_example().items() if value is not None}

    seen = settings_with(tmp_path, **example)

    assert example["DJANGO_LOCAL_MODE"] == "false"
    assert seen["engine"] == "django.db.backends.postgresql"
    assert seen["session_cookie_secure"] is True and seen["debug"] is False
    assert Path(seen["pipeline_path"]) == PROJECT_DIR / "predictor" / "artifacts" / "huber-blend-v2.pkl"
    assert Path(seen["pipeline_path"]).is_file()


# --- production: the default -------------------------------------------------------------------


@pytest.mark.parametrize("extra", [{}, {"DJANGO_LOCAL_MODE": "false"}, {"DJANGO_DEBUG": "true"}, {"DATABASE_URL": " "}])
def test_a_production_start_without_database_url_stops_naming_it(tmp_path, extra):
    variables = {"DJANGO_SECRET_KEY": PRODUCTION["DJANGO_SECRET_KEY"], **extra}

    result = start(tmp_path, str(PROJECT_DIR / "manage.py"), "check", **variables)

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert "DATABASE_URL is not set" in message
    assert "or set DJANGO_LOCAL_MODE=true for a local run" in message
    assert "DJANGO_SECRET_KEY" not in message


@pytest.mark.parametrize("key", [None, "", "   "])
def test_a_production_start_without_a_secret_key_stops_naming_it(tmp_path, key):
    variables = {"DATABASE_URL": PRODUCTION["DATABASE_URL"]}
    if key is not None:
        variables["DJANGO_SECRET_KEY"] = key

    result = start(tmp_path, str(PROJECT_DIR / "manage.py"), "check", **variables)

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert "DJANGO_SECRET_KEY is not set" in message
    assert "secrets.token_urlsafe" in message and "or set DJANGO_LOCAL_MODE=true for a local run" in message
    assert "DATABASE_URL" not in message


def test_debug_alone_relaxes_nothing(tmp_path):
    result = start(tmp_path, "-c", PROBE, DJANGO_DEBUG="true")

    assert result.returncode != 0
    assert "DATABASE_URL is not set" in result.stderr and "DJANGO_SECRET_KEY is not set" in result.stderr


def test_a_production_start_uses_its_database_and_key_and_https_only_cookies(tmp_path):
    seen = settings_with(tmp_path, **PRODUCTION)

    assert seen["engine"] == "django.db.backends.postgresql" and seen["name"] == "never_connected"
    assert seen["secret_key"] == PRODUCTION["DJANGO_SECRET_KEY"]
    assert seen["session_cookie_secure"] is True
    assert seen["csrf_cookie_secure"] is True
    assert seen["debug"] is False


# --- local mode ----------------------------------------------------------------------------------


def test_local_mode_without_database_or_key_passes_the_checks_on_sqlite_and_writes_no_file(tmp_path):
    before = project_files()

    result = start(tmp_path, str(PROJECT_DIR / "manage.py"), "check", DJANGO_LOCAL_MODE="true")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "using the SQLite file" in result.stderr
    assert project_files() == before
    assert list(tmp_path.iterdir()) == []


def test_local_mode_migrates_a_sqlite_database_and_activates_the_default_model(tmp_path):
    """`make run` and the image's build migrate SQLite: every migration must run there (PostgreSQL's triggers
    are skipped on it)."""
    database = tmp_path / "local.sqlite3"
    variables = {"DJANGO_LOCAL_MODE": "true", "DATABASE_URL": f"sqlite:///{database}"}

    migrated = start(tmp_path, str(PROJECT_DIR / "manage.py"), "migrate", "--noinput", **variables)
    assert migrated.returncode == 0, migrated.stderr
    activated = start(tmp_path, str(PROJECT_DIR / "manage.py"), "activate_model", "--if-none-active", **variables)
    assert activated.returncode == 0, activated.stderr
    assert "is now the active model" in activated.stdout


def test_local_mode_without_database_url_uses_the_sqlite_file_in_the_project(tmp_path):
    seen = settings_with(tmp_path, DJANGO_LOCAL_MODE="true")

    assert seen["engine"] == "django.db.backends.sqlite3"
    assert Path(seen["name"]) == PROJECT_DIR / "db.sqlite3"
    assert seen["debug"] is False


def test_local_mode_without_a_key_makes_a_new_one_in_each_process_rather_than_reading_a_file(tmp_path):
    first = settings_with(tmp_path, DJANGO_LOCAL_MODE="true")["secret_key"]
    second = settings_with(tmp_path, DJANGO_LOCAL_MODE="true")["secret_key"]

    assert len(first) >= 50 and len(second) >= 50
    assert first != second


def test_local_mode_uses_the_key_and_database_it_is_given(tmp_path):
    seen = settings_with(tmp_path, DJANGO_LOCAL_MODE="true", **PRODUCTION)

    assert seen["secret_key"] == PRODUCTION["DJANGO_SECRET_KEY"]
    assert seen["engine"] == "django.db.backends.postgresql"


def test_local_mode_with_postgresql_sends_cookies_over_plain_http(tmp_path):
    seen = settings_with(tmp_path, DJANGO_LOCAL_MODE="true", **PRODUCTION)

    assert seen["session_cookie_secure"] is False
    assert seen["csrf_cookie_secure"] is False


@pytest.mark.parametrize(
    ("variables", "secure"),
    [
        ({**PRODUCTION, "DJANGO_SECURE_COOKIES": "false"}, False),
        ({**PRODUCTION, "DJANGO_SECURE_COOKIES": "true"}, True),
        ({"DJANGO_LOCAL_MODE": "true", "DJANGO_SECURE_COOKIES": "true"}, True),
    ],
    ids=["production-off", "production-on", "local-on"],
)
def test_django_secure_cookies_overrides_the_default_of_either_mode(tmp_path, variables, secure):
    seen = settings_with(tmp_path, **variables)

    assert seen["session_cookie_secure"] is secure
    assert seen["csrf_cookie_secure"] is secure


# --- DJANGO_HTTPS: the one switch for a site served over HTTPS ------------------------------------

# A key like the one the README says to make: check --deploy wants 50 characters, 5 different.
LONG_KEY = "kq3VZ0b7-Hn_W1pE9sTx4LmAfYc2RgUoJ8iDzN6eB5hQwKrMvXyS1aPlOtIuCj0"

HTTPS_SETTINGS = """
import json

import django

django.setup()
from django.conf import settings

print(json.dumps({
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
    "redirect_exempt": settings.SECURE_REDIRECT_EXEMPT,
    "hsts_seconds": settings.SECURE_HSTS_SECONDS,
    "hsts_subdomains": settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "hsts_preload": settings.SECURE_HSTS_PRELOAD,
    "proxy_ssl_header": settings.SECURE_PROXY_SSL_HEADER,
    "cookies": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE, settings.LANGUAGE_COOKIE_SECURE],
}))
"""

# Requests through the whole middleware stack with the settings the environment gives; the
# database is never reached (/healthz answers 503 without it, which is not a redirect).
HTTPS_REQUESTS = """
import json

import django

django.setup()
from django.test import Client

client = Client()
answers = {}
for name, path, headers in [
    ("http", "/?a=1", {"X-Forwarded-Proto": "http"}),
    ("https", "/", {"X-Forwarded-Proto": "https"}),
    ("health", "/healthz", {}),
]:
    response = client.get(path, headers=headers)
    answers[name] = {
        "status": response.status_code,
        "location": response.get("Location"),
        "hsts": response.get("Strict-Transport-Security"),
    }
print(json.dumps(answers))
"""


def https_settings_with(cwd: Path, **variables: str) -> dict:
    result = start(cwd, "-c", HTTPS_SETTINGS, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.splitlines()[-1])


def test_check_deploy_finds_no_issue_in_the_https_production_configuration(tmp_path):
    result = start(
        tmp_path, str(PROJECT_DIR / "manage.py"), "check", "--deploy", "--fail-level", "WARNING",
        DATABASE_URL=PRODUCTION["DATABASE_URL"], DJANGO_SECRET_KEY=LONG_KEY, DJANGO_HTTPS="true",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_without_https_still_names_the_missing_hsts_and_redirect(tmp_path):
    """The oracle for the test above: the same check does see what DJANGO_HTTPS turns on."""
    result = start(
        tmp_path, str(PROJECT_DIR / "manage.py"), "check", "--deploy",
        DATABASE_URL=PRODUCTION["DATABASE_URL"], DJANGO_SECRET_KEY=LONG_KEY,
    )

    assert "security.W004" in result.stderr and "security.W008" in result.stderr


def test_https_is_off_by_default_and_changes_nothing_of_a_plain_production_start(tmp_path):
    seen = https_settings_with(tmp_path, **PRODUCTION)

    assert seen["ssl_redirect"] is False and seen["hsts_seconds"] == 0
    assert seen["cookies"] == [True, True, True]
    assert seen["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_https_turns_on_redirect_hsts_for_a_year_with_subdomains_and_secure_cookies(tmp_path):
    seen = https_settings_with(tmp_path, **PRODUCTION, DJANGO_HTTPS="true")

    assert seen["ssl_redirect"] is True and seen["redirect_exempt"] == [r"^healthz$"]
    assert seen["hsts_seconds"] == 31_536_000 and seen["hsts_subdomains"] is True
    assert seen["hsts_preload"] is False
    assert seen["cookies"] == [True, True, True]
    assert seen["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_https_trusts_the_proxy_header_even_with_debug_so_the_redirect_cannot_loop(tmp_path):
    assert https_settings_with(tmp_path, **PRODUCTION, DJANGO_DEBUG="true")["proxy_ssl_header"] is None

    seen = https_settings_with(tmp_path, **PRODUCTION, DJANGO_DEBUG="true", DJANGO_HTTPS="true")

    assert seen["proxy_ssl_header"] == ["HTTP_X_FORWARDED_PROTO", "https"] and seen["ssl_redirect"] is True


def test_local_mode_with_https_never_redirects_nor_sends_hsts_but_keeps_cookies_secure(tmp_path):
    seen = https_settings_with(tmp_path, DJANGO_LOCAL_MODE="true", DJANGO_HTTPS="true")

    assert seen["ssl_redirect"] is False and seen["hsts_seconds"] == 0
    assert seen["cookies"] == [True, True, True]


def test_https_with_secure_cookies_turned_off_stops_the_start_naming_both(tmp_path):
    result = start(tmp_path, "-c", HTTPS_SETTINGS, **PRODUCTION, DJANGO_HTTPS="true", DJANGO_SECURE_COOKIES="false")

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert "DJANGO_HTTPS=true" in message and "DJANGO_SECURE_COOKIES=false" in message


def test_secure_cookies_false_still_serves_a_plain_http_deploy(tmp_path):
    seen = https_settings_with(tmp_path, **PRODUCTION, DJANGO_SECURE_COOKIES="false")

    assert seen["cookies"] == [False, False, False] and seen["ssl_redirect"] is False


def test_with_https_plain_http_is_redirected_https_gets_hsts_and_the_health_check_is_not_redirected(tmp_path):
    result = start(tmp_path, "-c", HTTPS_REQUESTS, **PRODUCTION, DJANGO_HTTPS="true", DJANGO_ALLOWED_HOSTS="testserver")
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.splitlines()[-1])

    assert answers["http"] == {"status": 301, "location": "https://testserver/?a=1", "hsts": None}
    assert answers["https"]["status"] == 200
    assert answers["https"]["hsts"] == "max-age=31536000; includeSubDomains"
    assert answers["health"]["status"] == 503 and answers["health"]["location"] is None


def test_without_https_plain_http_is_served(tmp_path):
    result = start(tmp_path, "-c", HTTPS_REQUESTS, **PRODUCTION, DJANGO_ALLOWED_HOSTS="testserver")
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.splitlines()[-1])

    assert answers["http"]["status"] == 200 and answers["https"]["hsts"] is None


# --- the admin login lockout ------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["PREDICTOR_LOGIN_FAILURE_LIMIT", "PREDICTOR_LOGIN_COOLOFF_MINUTES"])
def test_a_lockout_limit_below_one_stops_the_start_naming_it(tmp_path, variable):
    result = start(tmp_path, "-c", PROBE, **PRODUCTION, **{variable: "0"})

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert variable in message and "at least 1" in message


def test_the_lockout_limit_and_cool_off_are_read_from_the_environment(tmp_path):
    probe = "import django; django.setup(); from django.conf import settings; print(settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME)"

    result = start(tmp_path, "-c", probe, **PRODUCTION, PREDICTOR_LOGIN_FAILURE_LIMIT="4", PREDICTOR_LOGIN_COOLOFF_MINUTES="90")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "4 1:30:00"


# --- the challenger's margin -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["fifty", "-1", "inf"])
def test_a_challenger_margin_that_is_not_a_number_of_dollars_stops_the_start_naming_it(tmp_path, value):
    result = start(tmp_path, "-c", PROBE, **PRODUCTION, PREDICTOR_CHALLENGER_MARGIN=value)

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert "PREDICTOR_CHALLENGER_MARGIN" in message and repr(value) in message


def test_the_challenger_margin_is_read_from_the_environment(tmp_path, settings):
    probe = "import django; django.setup(); from django.conf import settings; print(settings.PREDICTOR_CHALLENGER_MARGIN)"

    assert start(tmp_path, "-c", probe, **PRODUCTION, PREDICTOR_CHALLENGER_MARGIN="12.5").stdout.splitlines()[-1] == "12.5"
    assert settings.PREDICTOR_CHALLENGER_MARGIN == 50.0  # the default, in this run


# --- the pause's cache -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["6", "nan", "five"])
def test_a_pause_ttl_outside_0_to_5_seconds_stops_the_start_naming_it(tmp_path, value):
    result = start(tmp_path, "-c", PROBE, **PRODUCTION, PREDICTOR_PAUSE_TTL=value)

    assert result.returncode != 0
    [message] = [line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions.ImproperlyConfigured")]
    assert "PREDICTOR_PAUSE_TTL must be a number of seconds from 0 to 5" in message


def test_the_pause_ttl_is_read_from_the_environment(tmp_path):
    probe = "import django; django.setup(); from django.conf import settings; print(settings.PREDICTOR_PAUSE_TTL)"
    assert start(tmp_path, "-c", probe, **PRODUCTION, PREDICTOR_PAUSE_TTL="0.5").stdout.splitlines()[-1] == "0.5"
