"""Settings for the insurance-charges predictor.

Every deploy-time value comes from the environment through one ``env`` object
(django-environ); `.env.example` lists them all.

By default these are production settings and they fail fast: without ``DATABASE_URL``
or ``DJANGO_SECRET_KEY`` importing them raises ``ImproperlyConfigured`` naming what is
missing. ``DJANGO_LOCAL_MODE=true`` (which `make run` sets) is the one switch that relaxes
them for a run on a developer's machine: without ``DATABASE_URL`` a SQLite file, without
``DJANGO_SECRET_KEY`` a key generated in memory for this process, and cookies that also
travel over plain http. ``DJANGO_DEBUG`` relaxes nothing. Importing settings writes no file.
"""

import re
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

# ---------------------------------------------------------------------------
# Core
# https://docs.djangoproject.com/en/5.2/ref/settings/#debug
DEBUG = env.bool("DJANGO_DEBUG", default=False)

# A run on a developer's machine, never a deploy: the only thing that relaxes the checks below.
LOCAL_MODE = env.bool("DJANGO_LOCAL_MODE", default=False)

_LOCAL_HINT = "or set DJANGO_LOCAL_MODE=true for a local run"
# Blank counts as unset: an empty `-e DJANGO_SECRET_KEY=` must not become a key.
_DATABASE_URL = env.str("DATABASE_URL", default="").strip()
_SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="").strip()
_missing = []
if not _DATABASE_URL and not LOCAL_MODE:
    _missing.append(
        "DATABASE_URL is not set: set it to a PostgreSQL URL "
        f"(postgres://USER:PASSWORD@HOST:5432/NAME), {_LOCAL_HINT} (a SQLite file)."
    )
if not _SECRET_KEY and not LOCAL_MODE:
    _missing.append(
        "DJANGO_SECRET_KEY is not set: set it to a long random string, e.g. from "
        f"python -c 'import secrets; print(secrets.token_urlsafe(50))', {_LOCAL_HINT} (a key made at start)."
    )
if _missing:
    raise ImproperlyConfigured(" ".join(_missing))

# ---------------------------------------------------------------------------
# Database
# https://django-environ.readthedocs.io/en/latest/types.html#environ-env-db-url
# PostgreSQL in production and tests; in local mode without DATABASE_URL, a SQLite file
# (the predictor app logs a warning at start so nobody mistakes it for production).
LOCAL_SQLITE = not _DATABASE_URL
SQLITE_PATH = BASE_DIR / "db.sqlite3"
if LOCAL_SQLITE:
    DATABASES = {"default": env.db_url_config(f"sqlite:///{SQLITE_PATH}")}
else:
    DATABASES = {"default": env.db_url_config(_DATABASE_URL)}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
# A health check costs a query per request; a dead pooled connection fails one request instead.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DJANGO_CONN_HEALTH_CHECKS", default=False)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ---------------------------------------------------------------------------
# Security
# https://docs.djangoproject.com/en/5.2/ref/settings/#secret-key
# In local mode without a key, one made for this process: gunicorn loads settings before it
# forks, so its workers share it; sessions end when it stops (`make run` passes a kept key).
SECRET_KEY = _SECRET_KEY or get_random_secret_key()

ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# How many proxies we run in front of gunicorn, each appending to X-Forwarded-For (the Fargate
# stack's load balancer: 1). 0 ignores the header. predictor.security.client_ip says why and how.
PREDICTOR_PROXY_HOPS = env.int("PREDICTOR_PROXY_HOPS", default=0)

# HTTPS: one switch, set by the stack when it has a certificate (its load balancer terminates TLS
# and forwards plain http with X-Forwarded-Proto). It means secure cookies, HSTS and a redirect of
# plain http to https; `manage.py check --deploy` then finds nothing. Local mode never redirects
# and sends no HSTS (a browser would keep it for localhost, every port, for a year).
# https://docs.djangoproject.com/en/5.2/ref/middleware/#http-strict-transport-security
HTTPS = env.bool("DJANGO_HTTPS", default=False)
# The load balancer's scheme header is believed outside debug (a TLS proxy without DJANGO_HTTPS
# still gets is_secure() and the CSRF origin check right), and always with DJANGO_HTTPS: without
# it the redirect below would loop.
if HTTPS or not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS and not LOCAL_MODE
# The load balancer's health check (and the container's) comes over plain http.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = 365 * 24 * 60 * 60 if SECURE_SSL_REDIRECT else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
# No preload: it binds the whole registered domain (the insurer's, not this app's), takes effect
# only when the domain's owner submits it, and takes months to undo; that is their decision.
SECURE_HSTS_PRELOAD = False
SILENCED_SYSTEM_CHECKS = ["security.W021"]  # "preload is not set": decided just above, on purpose
# Secure cookies need HTTPS: DJANGO_HTTPS turns them on; without it DJANGO_SECURE_COOKIES decides
# (default on, off in local mode: plain http on 127.0.0.1); the two contradicting each other stops the start.
_SECURE_COOKIES = env.bool("DJANGO_SECURE_COOKIES", default=HTTPS or not LOCAL_MODE)
if HTTPS and not _SECURE_COOKIES:
    raise ImproperlyConfigured(
        "DJANGO_HTTPS=true sends cookies over HTTPS only, but DJANGO_SECURE_COOKIES=false: unset DJANGO_SECURE_COOKIES "
        "(or set DJANGO_HTTPS=false for a site served over plain http)."
    )
SESSION_COOKIE_SECURE = _SECURE_COOKIES
CSRF_COOKIE_SECURE = _SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# ---------------------------------------------------------------------------
# The admin login lockout (django-axes)
# https://django-axes.readthedocs.io/en/latest/4_configuration.html
# This many failed sign-ins for one username (from anywhere) lock that username, and this many
# from one address lock that address, until the cool-off has passed since the last of them
# (a sign-in tried while locked counts, and starts the wait again) or `manage.py unlock_login`.
AXES_FAILURE_LIMIT = env.int("PREDICTOR_LOGIN_FAILURE_LIMIT", default=10)
_COOLOFF_MINUTES = env.int("PREDICTOR_LOGIN_COOLOFF_MINUTES", default=30)
if AXES_FAILURE_LIMIT < 1 or _COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured(
        "PREDICTOR_LOGIN_FAILURE_LIMIT and PREDICTOR_LOGIN_COOLOFF_MINUTES must be whole numbers of at least 1, "
        f"not {AXES_FAILURE_LIMIT} and {_COOLOFF_MINUTES}."
    )
AXES_COOLOFF_TIME = timedelta(minutes=_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The one definition of a client's address (X-Forwarded-For only as far as our own proxies).
AXES_CLIENT_IP_CALLABLE = "predictor.security.client_ip.client_ip"
# The lockout page, in the admin's look, with 429 and Retry-After.
AXES_LOCKOUT_CALLABLE = "predictor.security.lockout.lockout_response"
# A success does not wipe the failures: it would wipe every failure from its address, other
# usernames' too, letting one good account reset an attack on the others.
AXES_RESET_ON_SUCCESS = False

# ---------------------------------------------------------------------------
# Applications
INSTALLED_APPS = [
    "predictor.apps.StaffAdminConfig",  # Django's admin with the staff pages (predictor.admin.site)
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # django-ninja in INSTALLED_APPS makes /api/v1/docs use its bundled Swagger UI
    # (served from our static files) instead of a CDN, so the docs work offline.
    "ninja",
    "axes",  # the admin login lockout
    "predictor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy header on every response (the policy: "Content Security Policy" below).
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "predictor.middleware.TraditionalChineseToEnglish",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "insurance_site.urls"
WSGI_APPLICATION = "insurance_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# django-axes' backend first: it refuses a locked-out sign-in before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# ---------------------------------------------------------------------------
# Content Security Policy (django-csp)
# https://django-csp.readthedocs.io/en/latest/configuration.html
# Every response says the browser may run and style only what this site serves: no inline script,
# no style attribute or block, no eval, nothing from another origin. Our pages keep their scripts and
# styles in static/ (README, "Content Security Policy"). The middleware runs second, so every response,
# error pages included, carries the header.
_CSP_DIRECTIVES = {
    "default-src": [NONE],
    "script-src": [SELF],
    "style-src": [SELF],
    "img-src": [SELF],  # and data: on the API docs (Swagger UI's icons; predictor/api/__init__.py)
    "font-src": [SELF],
    "connect-src": [SELF],  # Swagger UI's "Try it out" and its fetch of openapi.json
    "form-action": [SELF],
    "frame-ancestors": [NONE],
    "base-uri": [NONE],
    "object-src": [NONE],
}
# Where browsers send a report of each violation (optional): an http(s) URL, or a path on this site.
# Checked, since a space or a semicolon in it would add sources or directives to the policy.
PREDICTOR_CSP_REPORT_URI = env.str("PREDICTOR_CSP_REPORT_URI", default="").strip()
if PREDICTOR_CSP_REPORT_URI:
    if not re.fullmatch(r"(https?://[^\s;,'\"]+|/[^\s;,'\"]*)", PREDICTOR_CSP_REPORT_URI):
        raise ImproperlyConfigured(
            f"PREDICTOR_CSP_REPORT_URI={PREDICTOR_CSP_REPORT_URI!r} is not a report address: give an http(s):// URL "
            "or a path starting with /, without spaces, quotes, commas or semicolons; or leave it unset."
        )
    _CSP_DIRECTIVES["report-uri"] = [PREDICTOR_CSP_REPORT_URI]
CONTENT_SECURITY_POLICY = {"DIRECTIVES": _CSP_DIRECTIVES}

# ---------------------------------------------------------------------------
# Internationalisation
# https://docs.djangoproject.com/en/5.2/topics/i18n/translation/
# English and Simplified Chinese. The choice comes from the switcher's cookie, else Accept-Language;
# predictor.middleware.TraditionalChineseToEnglish keeps Traditional Chinese readers (zh-TW, zh-HK,
# zh-Hant) off Simplified Chinese, which Django would otherwise pick for them. The admin uses
# Django's own translations; ours are in locale/ (compiled .mo files committed).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("zh-hans", "简体中文")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SECURE = _SECURE_COOKIES
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# ---------------------------------------------------------------------------
# Static files, served by WhiteNoise
# https://whitenoise.readthedocs.io/en/stable/django.html
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# ---------------------------------------------------------------------------
# Logging: everything to stdout/stderr, where gunicorn and the container collect it.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # axes: its warnings (each failed sign-in, each lockout) without its INFO chatter.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# ---------------------------------------------------------------------------
# The predictor
# The trained PyCaret pipeline served by this process; its model card sits beside it
# with the same stem and a `.json` suffix and holds the sha256 the file must match.
# A relative path is taken from the project folder, whatever the working directory.
PREDICTOR_PIPELINE_PATH = BASE_DIR / env.str(
    "PREDICTOR_PIPELINE_PATH", default="predictor/artifacts/huber-blend-v2.pkl"
)

# Each process re-reads which model version is active at most this often (seconds), so that
# a prediction costs one INSERT; `manage.py activate_model` takes effect everywhere within it.
PREDICTOR_ACTIVE_MODEL_TTL = env.float("PREDICTOR_ACTIVE_MODEL_TTL", default=5.0)

# Changing the model on evidence (predictor.changes, `manage.py compare_models`): the challenger is
# "not worse" when the 95% interval of its mean extra absolute error lies wholly below this many
# dollars a patient. A finite number of dollars from 0 to 100,000; anything else stops the start.
_CHALLENGER_MARGIN = env.str("PREDICTOR_CHALLENGER_MARGIN", default="50").strip()
try:
    PREDICTOR_CHALLENGER_MARGIN = float(_CHALLENGER_MARGIN)
except ValueError:
    PREDICTOR_CHALLENGER_MARGIN = float("nan")
if not 0 <= PREDICTOR_CHALLENGER_MARGIN <= 100_000:  # NaN fails too
    raise ImproperlyConfigured(
        f"PREDICTOR_CHALLENGER_MARGIN={_CHALLENGER_MARGIN!r} is not a margin in dollars from 0 to 100,000 "
        "(how much larger the challenger's mean absolute error may be and still be \"not worse\"; default 50)."
    )

# Each process re-reads whether staff paused the service (`manage.py serving_pause`, or the admin) at
# most this often (seconds), so the pause costs a prediction no query; it reaches every task within it.
PAUSE_TTL_MAX = 5.0  # the pause must hold everywhere within five seconds
_PAUSE_TTL = env.str("PREDICTOR_PAUSE_TTL", default="2").strip()
try:
    PREDICTOR_PAUSE_TTL = float(_PAUSE_TTL)
except ValueError:
    PREDICTOR_PAUSE_TTL = -1.0
if not 0 <= PREDICTOR_PAUSE_TTL <= PAUSE_TTL_MAX:  # NaN fails too
    raise ImproperlyConfigured(
        f"PREDICTOR_PAUSE_TTL must be a number of seconds from 0 to {PAUSE_TTL_MAX:g} (default 2), not {_PAUSE_TTL!r}: "
        "a pause must reach every task within five seconds."
    )

# ---------------------------------------------------------------------------
# The JSON API and batch files
# A request body larger than this is refused with 413 before it is read. The default fits
# a batch of 10,000 records (about 1.2 MB written compactly) with room for indentation.
PREDICTOR_API_MAX_BODY_BYTES = env.int("PREDICTOR_API_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# The staff upload page refuses files larger than these; `manage.py predict_csv` has no limit.
PREDICTOR_BATCH_PAGE_MAX_ROWS = env.int("PREDICTOR_BATCH_PAGE_MAX_ROWS", default=20_000)
PREDICTOR_BATCH_PAGE_MAX_BYTES = env.int("PREDICTOR_BATCH_PAGE_MAX_BYTES", default=4 * 1024 * 1024)

# ---------------------------------------------------------------------------
# Retention of patients' inputs (predictor.retention, `manage.py purge_predictions`)
# Predictions older than PREDICTOR_RETENTION_DAYS lose the person's inputs: anonymised (age, BMI
# and children replaced by coarse bands, the time by the day; the charges kept) or deleted.
# Unset or empty: kept forever, and the scheduled job changes nothing.
RETENTION_MAX_DAYS = 36_500  # a hundred years; also the largest --older-than
_RETENTION_DAYS = env.str("PREDICTOR_RETENTION_DAYS", default="").strip()
if not _RETENTION_DAYS:
    PREDICTOR_RETENTION_DAYS = None
elif _RETENTION_DAYS.isascii() and _RETENTION_DAYS.isdigit() and 1 <= int(_RETENTION_DAYS) <= RETENTION_MAX_DAYS:
    PREDICTOR_RETENTION_DAYS = int(_RETENTION_DAYS)
else:
    raise ImproperlyConfigured(
        f"PREDICTOR_RETENTION_DAYS must be a whole number of days from 1 to {RETENTION_MAX_DAYS:,} "
        f"(or empty to keep inputs forever), not {_RETENTION_DAYS!r}."
    )
RETENTION_ACTIONS = ("anonymise", "delete")
PREDICTOR_RETENTION_ACTION = env.str("PREDICTOR_RETENTION_ACTION", default="").strip() or "anonymise"
if PREDICTOR_RETENTION_ACTION not in RETENTION_ACTIONS:
    raise ImproperlyConfigured(
        f"PREDICTOR_RETENTION_ACTION must be anonymise or delete (empty means anonymise), "
        f"not {PREDICTOR_RETENTION_ACTION!r}."
    )

# Rate limits (predictor/security/ratelimit.py): requests per window, kept in PostgreSQL so that every
# worker and every task shares them. Each is N/s, N/m, N/h or N/d; anything else stops the start.
_RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_MAX_RATE = 1_000_000_000  # the store counts in a 32-bit integer


def _rate(name: str, text: str) -> tuple[int, int]:
    """``(requests, seconds)`` from the value of ``name``, written ``N/s``, ``N/m``, ``N/h`` or ``N/d``."""
    count, _, unit = text.partition("/")
    if not (count.isascii() and count.isdigit() and unit in _RATE_PERIODS and 1 <= int(count) <= _MAX_RATE):
        raise ImproperlyConfigured(
            f"{name}={text!r} is not a rate: write N/s, N/m, N/h or N/d with N a whole number from 1 "
            f"to {_MAX_RATE:,} (e.g. 60/m)."
        )
    return int(count), _RATE_PERIODS[unit]


# Per client address (predictor.security.client_ip), the form's POST and the anonymous API POST together.
PREDICTOR_RATE_LIMIT_ANON = _rate("PREDICTOR_RATE_LIMIT_ANON", env.str("PREDICTOR_RATE_LIMIT_ANON", default="60/m"))
# Per API token, or per staff user with a session, over every API operation they call.
PREDICTOR_RATE_LIMIT_TOKEN = _rate("PREDICTOR_RATE_LIMIT_TOKEN", env.str("PREDICTOR_RATE_LIMIT_TOKEN", default="600/m"))
# The largest batch an anonymous POST /api/v1/predictions may send; a token allows the API's 10,000.
_ANON_MAX_RECORDS = env.str("PREDICTOR_API_ANON_MAX_RECORDS", default="100")
if not (_ANON_MAX_RECORDS.isascii() and _ANON_MAX_RECORDS.isdigit() and 1 <= int(_ANON_MAX_RECORDS) <= 10_000):
    raise ImproperlyConfigured(
        f"PREDICTOR_API_ANON_MAX_RECORDS={_ANON_MAX_RECORDS!r} is not a whole number from 1 to 10,000 "
        "(the records an anonymous API request may send; default 100)."
    )
PREDICTOR_API_ANON_MAX_RECORDS = int(_ANON_MAX_RECORDS)

# The staff access audit (predictor.security.access_log)
# Days each access log entry is kept; `manage.py purge_access_log` deletes older ones. Longer than
# the predictions themselves: who read a patient's data must be answerable after the data is gone.
_ACCESS_LOG_DAYS = env.str("PREDICTOR_ACCESS_LOG_RETENTION_DAYS", default="2190").strip()
if not _ACCESS_LOG_DAYS.isdecimal() or int(_ACCESS_LOG_DAYS) < 1:
    raise ImproperlyConfigured(
        f"PREDICTOR_ACCESS_LOG_RETENTION_DAYS must be a positive whole number of days (default 2190, six years), "
        f"not {_ACCESS_LOG_DAYS!r}."
    )
PREDICTOR_ACCESS_LOG_RETENTION_DAYS = int(_ACCESS_LOG_DAYS)
if PREDICTOR_RETENTION_DAYS is not None and PREDICTOR_ACCESS_LOG_RETENTION_DAYS < PREDICTOR_RETENTION_DAYS:
    raise ImproperlyConfigured(
        f"PREDICTOR_ACCESS_LOG_RETENTION_DAYS ({PREDICTOR_ACCESS_LOG_RETENTION_DAYS}) is shorter than "
        f"PREDICTOR_RETENTION_DAYS ({PREDICTOR_RETENTION_DAYS}): keep the record of who read patients' data "
        "at least as long as the data."
    )

# ---------------------------------------------------------------------------
# The technical file (predictor.technical_file, `manage.py technical_file`)
# The provider file: what only people can write into the technical file (the provider's identity, the
# risk-management system, the standards applied, the EU declaration of conformity). A relative path is
# taken from the project folder; technical_file.example.yaml shows every key. Missing: the documents
# say so where each part belongs, and `technical_file --check` exits 1.
PREDICTOR_TECHNICAL_FILE_PROVIDER = BASE_DIR / env.str("PREDICTOR_TECHNICAL_FILE_PROVIDER", default="technical_file.yaml")
