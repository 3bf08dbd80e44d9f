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

from pathlib import Path

import environ
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
# stack's load balancer: 1). 0 ignores the header. predictor.client_ip says why and how.
PREDICTOR_PROXY_HOPS = env.int("PREDICTOR_PROXY_HOPS", default=0)

# Behind a load balancer that terminates TLS the original scheme arrives in this header.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Secure cookies need HTTPS: on by default, off in local mode (plain http on 127.0.0.1).
_SECURE_COOKIES = env.bool("DJANGO_SECURE_COOKIES", default=not LOCAL_MODE)
SESSION_COOKIE_SECURE = _SECURE_COOKIES
CSRF_COOKIE_SECURE = _SECURE_COOKIES
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# ---------------------------------------------------------------------------
# Applications
INSTALLED_APPS = [
    "django.contrib.admin",
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
    "predictor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "predictor.middleware.TraditionalChineseToEnglish",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

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
    "loggers": {"django.db.backends": {"level": "WARNING"}},
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

# ---------------------------------------------------------------------------
# The JSON API and batch files
# A request body larger than this is refused with 413 before it is read. The default fits
# a batch of 10,000 records (about 1.2 MB written compactly) with room for indentation.
PREDICTOR_API_MAX_BODY_BYTES = env.int("PREDICTOR_API_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# The staff upload page refuses files larger than these; `manage.py predict_csv` has no limit.
PREDICTOR_BATCH_PAGE_MAX_ROWS = env.int("PREDICTOR_BATCH_PAGE_MAX_ROWS", default=20_000)
PREDICTOR_BATCH_PAGE_MAX_BYTES = env.int("PREDICTOR_BATCH_PAGE_MAX_BYTES", default=4 * 1024 * 1024)

# ---------------------------------------------------------------------------
# The staff access audit (predictor.access_log)
# Days each access log entry is kept; `manage.py purge_access_log` deletes older ones. Longer than
# the predictions themselves: who read a patient's data must be answerable after the data is gone.
_ACCESS_LOG_DAYS = env.str("PREDICTOR_ACCESS_LOG_RETENTION_DAYS", default="2190").strip()
if not _ACCESS_LOG_DAYS.isdecimal() or int(_ACCESS_LOG_DAYS) < 1:
    raise ImproperlyConfigured(
        f"PREDICTOR_ACCESS_LOG_RETENTION_DAYS must be a positive whole number of days (default 2190, six years), "
        f"not {_ACCESS_LOG_DAYS!r}."
    )
PREDICTOR_ACCESS_LOG_RETENTION_DAYS = int(_ACCESS_LOG_DAYS)
