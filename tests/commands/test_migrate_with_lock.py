"""The container's start-up migration: `migrate` behind a PostgreSQL advisory lock."""

import io
import threading

import psycopg2
import pytest
from django.core.management import call_command
from django.db import OperationalError, connection

from predictor.management.commands.migrate_with_lock import MIGRATION_LOCK_KEY

pytestmark = pytest.mark.django_db(transaction=True)


def other_session():
    """A second, independent PostgreSQL session on the test database (another task starting)."""
    params = connection.get_connection_params()
    session = psycopg2.connect(**{key: params[key] for key in ("dbname", "user", "host", "port", "password") if params.get(key)})
    session.autocommit = True
    return session


def lock_is_free() -> bool:
    """True when another session can take the migration lock right now (and it gives it back)."""
    session = other_session()
    try:
        with session.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            taken = cursor.fetchone()[0]
            if taken:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
        return taken
    finally:
        session.close()


def predictor_tables() -> set[str]:
    return {name for name in connection.introspection.table_names() if name.startswith("predictor_")}


def test_it_applies_unapplied_migrations():
    call_command("migrate", "predictor", "zero", verbosity=0)
    assert predictor_tables() == set()
    out = io.StringIO()
    try:
        call_command("migrate_with_lock", "--noinput", stdout=out)
    finally:
        call_command("migrate", verbosity=0)  # the other tests need the tables whatever happened

    assert {"predictor_prediction", "predictor_modelversion"} <= predictor_tables()
    assert "Applying predictor.0001_initial... OK" in out.getvalue()


def test_it_releases_the_lock_when_it_is_done():
    call_command("migrate_with_lock", "--noinput", stdout=io.StringIO())

    assert lock_is_free()


def test_it_releases_the_lock_when_migrate_fails():
    """A real failure: another session locks django_migrations, and this one gives up waiting for it."""
    holder = other_session()
    holder.autocommit = False
    with holder.cursor() as cursor:
        cursor.execute("LOCK TABLE django_migrations IN ACCESS EXCLUSIVE MODE")
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = 300")
    try:
        with pytest.raises(OperationalError, match="lock timeout"):
            call_command("migrate_with_lock", "--noinput", stdout=io.StringIO())
        assert lock_is_free()
    finally:
        holder.rollback()
        holder.close()
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def test_it_waits_while_another_session_holds_the_lock():
    holder = other_session()
    with holder.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
    out = io.StringIO()
    outcome = {}

    def run():
        from django.db import connections

        try:
            call_command("migrate_with_lock", "--noinput", stdout=out)
            outcome["ok"] = True
        except Exception as exc:  # reported by the assertion below
            outcome["error"] = exc
        finally:
            connections.close_all()

    second = threading.Thread(target=run)
    try:
        second.start()
        second.join(timeout=2)
        # Still blocked behind the first session: it has not taken the lock nor run migrate.
        assert second.is_alive()
        assert out.getvalue() == "Another process is migrating; waiting for its lock\n"
    finally:
        holder.close()  # the first task ends; its session lock goes with it
        second.join(timeout=30)

    assert not second.is_alive()
    assert outcome == {"ok": True}
    report = out.getvalue()
    # Then it took the lock, migrated (nothing was left to apply), and let go.
    assert report.index("Took the migration lock") < report.index("No migrations to apply.")
    assert report.index("No migrations to apply.") < report.index("Released the migration lock")
    assert lock_is_free()
