"""The rate limits' counts (predictor/ratelimit.py): one row per client, UNLOGGED on PostgreSQL.

Django cannot declare an UNLOGGED table, so the database side is written here by hand and the
model's state is declared beside it: an UNLOGGED table writes no WAL, so a check's commit does
not wait for a WAL flush; its rows are lost in a crash, which forgives at most one window. The
fill factor leaves room on each page for HOT updates (the counts change on every request; no
indexed column does within a window). SQLite (a local run) gets an ordinary table.
"""

from django.db import migrations, models

COLUMNS = "key varchar(100) NOT NULL PRIMARY KEY, window_start bigint NOT NULL, window_end bigint NOT NULL, hits integer NOT NULL"


def table_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE UNLOGGED TABLE predictor_rate_limit ({COLUMNS}) WITH (fillfactor = 70)")
    else:
        schema_editor.execute(f"CREATE TABLE predictor_rate_limit ({COLUMNS})")
    schema_editor.execute("CREATE INDEX predictor_rate_limit_end ON predictor_rate_limit (window_end)")


def table_drop(apps, schema_editor):
    schema_editor.execute("DROP TABLE predictor_rate_limit")


class Migration(migrations.Migration):

    dependencies = [
        ("predictor", "0004_prediction_actual_charges"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(table_create, table_drop)],
            state_operations=[
                migrations.CreateModel(
                    name="RateLimit",
                    fields=[
                        ("key", models.CharField(max_length=100, primary_key=True, serialize=False)),
                        ("window_start", models.BigIntegerField()),
                        ("window_end", models.BigIntegerField()),
                        ("hits", models.IntegerField()),
                    ],
                    options={
                        "db_table": "predictor_rate_limit",
                        "indexes": [models.Index(fields=["window_end"], name="predictor_rate_limit_end")],
                    },
                ),
            ],
        ),
    ]
