"""Apply migrations while holding a PostgreSQL advisory lock.

Every container runs this at start (docker/start). When several tasks start at once,
the first takes the lock and migrates; the others wait for it, then find nothing left
to apply. The lock is a session lock on a fixed key, released when the command ends
or, if the process dies, when its connection closes.
"""

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, connections

# A fixed, project-specific bigint: every task must ask for the same lock.
MIGRATION_LOCK_KEY = 7_305_412_926_540_017


class Command(BaseCommand):
    help = "Run `migrate` under a PostgreSQL advisory lock, so that concurrent starts migrate one at a time."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="The database to migrate (default: %(default)s).")
        parser.add_argument(
            "--noinput", "--no-input", action="store_false", dest="interactive", help="Never prompt (passed to migrate)."
        )

    def handle(self, *args, **options):
        database = options["database"]
        connection = connections[database]
        migrate_options = {
            "database": database,
            "interactive": options["interactive"],
            "verbosity": options["verbosity"],
            # The streams this command was given (call_command(stdout=...)), so migrate's report goes with ours.
            **{stream: options[stream] for stream in ("stdout", "stderr") if options.get(stream)},
        }
        if connection.vendor != "postgresql":
            # SQLite (the local quick run) has one writer and no advisory locks.
            self.stdout.write(f"{connection.vendor}: no advisory lock, migrating directly")
            call_command("migrate", **migrate_options)
            return

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
            if not cursor.fetchone()[0]:
                self.stdout.write("Another process is migrating; waiting for its lock")
                cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
        if options["verbosity"]:
            self.stdout.write("Took the migration lock")
        try:
            call_command("migrate", **migrate_options)
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
            if options["verbosity"]:
                self.stdout.write("Released the migration lock")
