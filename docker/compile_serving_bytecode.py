"""Build step (Dockerfile): write the bytecode of what a serving container imports, and of nothing else.

    DJANGO_LOCAL_MODE=true python docker/compile_serving_bytecode.py

pip installs the serving set with --no-compile. This script then does what a container does, with
bytecode writing on: it migrates a throwaway SQLite database, runs the start-up step, loads every
committed model and predicts with it, imports every management command, gunicorn's master and
worker and the PostgreSQL backend, and requests every page and API operation with Django's test
client. Each module that imports gets its .pyc, so the container starts as fast as with everything
compiled, while the thousands of library modules serving never imports (most of scipy,
statsmodels and scikit-learn) carry none. The app user cannot write bytecode: a module imported
later that this missed is compiled in memory, as it would be without any .pyc. The project's own
packages are compiled whole afterwards (compileall).
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from io import StringIO
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
# Imported by a container but not by the steps below (a SQLite database, no server process).
RUNTIME_MODULES = (
    "django.db.backends.postgresql.base",
    "gunicorn.app.wsgiapp",
    "gunicorn.arbiter",
    "gunicorn.workers.sync",
    "gunicorn.glogging",
    "gunicorn.http.wsgi",
    "insurance_site.gunicorn",
)


def main() -> None:
    sys.dont_write_bytecode = False
    sys.path.insert(0, str(PROJECT_DIR))
    with tempfile.TemporaryDirectory() as folder:
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/warm.sqlite3"
        os.environ.setdefault("DJANGO_SECRET_KEY", "build-step-only")
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insurance_site.settings")
        import django

        django.setup()
        from django.core.management import call_command, get_commands, load_command_class

        quiet = {"stdout": StringIO(), "stderr": StringIO()}
        call_command("migrate", "--noinput", verbosity=0, **quiet)
        call_command("activate_model", "--if-none-active", **quiet)
        for name, app in get_commands().items():
            load_command_class(app, name)
        for module in RUNTIME_MODULES:
            importlib.import_module(module)
        models_predict()
        pages_request()
    print(f"compile_serving_bytecode: {len(sys.modules)} modules imported, their bytecode written")


def models_predict() -> None:
    """Every committed model, loaded and verified as the app does, predicting one patient and a batch."""
    from predictor.examples import SAMPLE_PATIENT, SECOND_PATIENT
    from predictor.ml import artifacts, predict

    for path in sorted(artifacts.artifacts_folder().glob("*.pkl")):
        model = artifacts.load_model_artifact(path)
        predict.predict_charges_with_interval([SAMPLE_PATIENT], model)
        predict.predict_charges_with_interval([SAMPLE_PATIENT, SECOND_PATIENT], model)


def pages_request() -> None:
    """The form, a result page, /healthz, the API and its docs, and the admin, through the test client."""
    import json

    from django.contrib.auth import get_user_model
    from django.test import Client

    from predictor.examples import SAMPLE_PATIENT

    client = Client(HTTP_HOST="localhost")
    for url in ("/", "/healthz", "/api/v1/openapi.json", "/api/v1/docs", "/admin/login/", "/admin/predictor/batch/upload/"):
        client.get(url)
    answer = client.post("/", SAMPLE_PATIENT)
    if answer.status_code != 302:
        raise SystemExit(f"compile_serving_bytecode: the form answered {answer.status_code}, not a redirect to its result")
    client.get(answer["Location"])
    client.post("/api/v1/predictions", json.dumps(SAMPLE_PATIENT), content_type="application/json")
    staff = get_user_model().objects.create_superuser("build-step", password=None)
    client.force_login(staff)
    for url in ("/admin/", "/admin/predictor/prediction/", "/admin/predictor/modelversion/", "/admin/predictor/batch/upload/"):
        client.get(url)
    client.get("/api/v1/predictions")


if __name__ == "__main__":
    main()
