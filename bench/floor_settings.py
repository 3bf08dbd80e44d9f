"""Settings of the benchmark's floor (bench/floor_app.py): the least Django that parses a JSON body
and writes one row to PostgreSQL. No middleware, no apps, no templates. Never deployed."""

import os

import environ

env = environ.Env()

SECRET_KEY = "benchmark-floor-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "bench.floor_app"
INSTALLED_APPS: list[str] = []
MIDDLEWARE: list[str] = []
USE_TZ = True
DATABASES = {"default": env.db_url_config(os.environ["BENCH_FLOOR_DATABASE_URL"])}
DATABASES["default"]["CONN_MAX_AGE"] = None  # one connection per worker, as the app keeps its own
