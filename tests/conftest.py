"""Shared fixtures. Tests use the real committed pipeline, loaded once per test run.

A test that uses the database starts with the default model version active, as after the
start-up step `activate_model --if-none-active`; mark it `no_active_model` to start without.
"""

import shutil

import pytest

from predictor import serving
from predictor.examples import SAMPLE_PATIENT
from predictor.ml import artifacts


@pytest.fixture(scope="session")
def loaded_model() -> artifacts.LoadedModel:
    """The committed, hash-verified pipeline (a broken artifact fails the suite here)."""
    return artifacts.get_model()


@pytest.fixture
def artifact_copy(tmp_path, loaded_model):
    """A copy of the committed artifact and its card in a temporary folder."""
    target = tmp_path / "copy.pkl"
    shutil.copy(loaded_model.path, target)
    shutil.copy(artifacts.card_path_for(loaded_model.path), artifacts.card_path_for(target))
    return target


@pytest.fixture(autouse=True)
def fresh_serving_cache(request):
    """Each test reads the active model version and the pause afresh (rows from a rolled-back test are gone)."""
    serving.model_serving_reset()
    serving.serving_pause_reset()
    uses_database = request.node.get_closest_marker("django_db") or {"db", "transactional_db"} & set(
        request.fixturenames
    )
    if uses_database and not request.node.get_closest_marker("no_active_model"):
        request.getfixturevalue("active_model_version")
    yield
    serving.model_serving_reset()
    serving.serving_pause_reset()


@pytest.fixture
def active_model_version(db, loaded_model):
    """The ModelVersion row of the served model: the default artifact, activated as the start-up step does."""
    version, _ = serving.model_version_activate_if_none()
    return version


@pytest.fixture
def challenger_version(db, active_model_version):
    """huber-blend-v1, set as the challenger beside the served huber-blend-v2."""
    return serving.model_version_challenger_set(name="huber-blend-v1")


@pytest.fixture
def valid_inputs() -> dict:
    """One realistic patient: the sample patient (the first row of the training data), a fresh copy."""
    return dict(SAMPLE_PATIENT)


def table_locked(table: str):
    """A real database failure on one table: another connection holds an exclusive lock on it and this
    connection gives up waiting after 300 ms. A generator for fixtures: it yields a function that
    releases the lock (to look at the table again within the test), and releases it at the end."""
    import psycopg2
    from django.db import connection

    params = connection.get_connection_params()
    holder = psycopg2.connect(**{key: params[key] for key in ("dbname", "user", "host", "port", "password") if params.get(key)})
    with holder.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 300")

    def release() -> None:
        if not holder.closed:
            holder.rollback()
            holder.close()

    yield release
    release()


@pytest.fixture
def locked_prediction_table(db):
    """A real database failure: the prediction table cannot be read or written (``table_locked``)."""
    yield from table_locked("predictor_prediction")


@pytest.fixture(scope="session")
def insurance_csv():
    """The training data: INSURANCE_DATA or ../shared/data/insurance.csv (never committed here)."""
    import os
    from pathlib import Path

    from django.conf import settings

    path = Path(os.environ.get("INSURANCE_DATA", settings.BASE_DIR.parent / "shared" / "data" / "insurance.csv"))
    if not path.is_file():
        pytest.fail(f"The insurance data is not at {path}; set INSURANCE_DATA to the CSV's path.")
    return path


@pytest.fixture
def signing_clock(monkeypatch):
    """The clock of django.core.signing (signed result links), moved forward by ``advance(seconds)``.

    Only the signing module's clock moves: it reads ``time.time()`` through its own ``time`` name.
    """
    import time

    from django.core import signing

    class Clock:
        offset = 0.0

        def time(self) -> float:
            return time.time() + self.offset

        def advance(self, seconds: float) -> None:
            self.offset += seconds

    clock = Clock()
    monkeypatch.setattr(signing, "time", clock)
    return clock


@pytest.fixture(scope="session")
def retrained(tmp_path_factory, insurance_csv):
    """One retrain from the data file for the whole run, through ``manage.py train_model`` into a
    temporary folder: (card, artifact path, command output). Only slow tests use it."""
    import json
    from io import StringIO

    from django.core.management import call_command

    folder = tmp_path_factory.mktemp("retrain")
    out = StringIO()
    call_command(
        "train_model", "--data", str(insurance_csv), "--output-dir", str(folder), "--name", "retrain-test",
        stdout=out, stderr=StringIO(),
    )
    artifact = folder / "retrain-test.pkl"
    return json.loads(artifacts.card_path_for(artifact).read_text()), artifact, out.getvalue()


def database_url() -> str:
    """The URL of the database this test runs on, for a second process (``DATABASE_URL``)."""
    from urllib.parse import quote

    from django.db import connection

    database = connection.settings_dict
    password = f":{quote(database['PASSWORD'], safe='')}" if database.get("PASSWORD") else ""
    return f"postgres://{quote(database['USER'], safe='')}{password}@{database['HOST'] or 'localhost'}:{database['PORT'] or 5432}/{database['NAME']}"


@pytest.fixture
def paused(db):
    """The service paused by the command, as staff would pause it (``manage.py serving_pause``)."""
    from predictor.models import ServingChange
    from predictor.oversight import services as oversight

    return oversight.serving_pause(reason="tests: paused", channel=ServingChange.Channel.COMMAND).record


@pytest.fixture
def raised_rate_limits(settings):
    """Limits no test's burst of requests reaches, for tests that start a server or fire many requests
    (as the benchmarks raise them through PREDICTOR_RATE_LIMIT_ANON and PREDICTOR_RATE_LIMIT_TOKEN)."""
    settings.PREDICTOR_RATE_LIMIT_ANON = (1_000_000, 1)
    settings.PREDICTOR_RATE_LIMIT_TOKEN = (1_000_000, 1)


@pytest.fixture
def locked_rate_limit_table(db):
    """The store cannot answer: another connection holds an exclusive lock on the counts, and this
    connection gives up waiting after 300 ms (as when the database does not answer)."""
    yield from table_locked("predictor_rate_limit")


@pytest.fixture
def provider_file(tmp_path, settings):
    """Point PREDICTOR_TECHNICAL_FILE_PROVIDER at a file holding ``text`` (a copy of the committed example by default)."""
    from pathlib import Path

    def write(text: str | None = None) -> Path:
        path = tmp_path / "technical_file.yaml"
        example = Path(settings.BASE_DIR) / "technical_file.example.yaml"
        path.write_text(example.read_text() if text is None else text)
        settings.PREDICTOR_TECHNICAL_FILE_PROVIDER = path
        return path

    return write


@pytest.fixture
def no_provider_file(tmp_path, settings):
    """Point PREDICTOR_TECHNICAL_FILE_PROVIDER at a file that does not exist."""
    settings.PREDICTOR_TECHNICAL_FILE_PROVIDER = tmp_path / "absent.yaml"
    return settings.PREDICTOR_TECHNICAL_FILE_PROVIDER
