"""The lower bound of batch work (issue 25), measured in the same run as ``predict_csv``.

    .venv/bin/python -m bench.bound [--rows 100000] [--json results.json]

What scoring a file of patients must do, done as directly as pandas, NumPy, the pipeline and PostgreSQL
allow, on the rows ``measure_predict_csv`` in bench/run.py scores (``bench.harness.random_record``, seed
100,000): pandas ``read_csv``; vectorised range and choice checks (the form's limits and choices); the
pipeline's own ``predict`` on all rows, with the 90% interval (``predictor.ml.interval``); formatting the
rows for COPY (pandas' ``to_csv``); COPY into a scratch copy of ``predictor_prediction`` with its indexes
(``CREATE TABLE ... (LIKE predictor_prediction INCLUDING ALL)``, dropped afterwards), with the commit.
Each step is timed, and the total, model load and start-up aside.

In the same process, before the bound, the same file goes through ``manage.py predict_csv`` (its
``call_command``) with the model already loaded, so the time the command reports is start-up aside;
Python and Django's start-up and the model load are timed apart. bench/run.py runs this module after
``measure_predict_csv`` (``bound_run``) and puts the ratio in its verdict (``bound_checks``). It uses the
database at DATABASE_URL (the bench's, with its active model) and stores the command's rows there.

The scratch table has the table's columns, defaults, checks and indexes, not its foreign keys (LIKE
does not copy them), and its ids come from its own identity sequence: so the bound is a little lower
than any path that stores the same rows.
"""

from __future__ import annotations

import argparse
import csv
import gc
import io
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The bench's rows: bench/run.py's measure_predict_csv writes 100,000 of them from this seed.
SEED = 100_000
ROWS = 100_000
TARGET_RATIO = 1.5  # predict_csv's time, as the command reports it with start-up aside, over the bound
KEYS_LABEL = "apart: the same COPY with the table's two foreign keys checked (not in the bound)"
STEPS = ("read_csv", "checks", "predict", "format", "copy_commit")
STEP_LABELS = {
    "read_csv": "pandas read_csv",
    "checks": "vectorised range and choice checks",
    "predict": "the pipeline's own predict on all rows, with the interval",
    "format": "formatting the rows for COPY",
    "copy_commit": "COPY into a scratch copy of predictor_prediction (its indexes), with the commit",
}
# The columns the bound stores, in COPY's order: the inputs, the charge and its interval, and what
# every row of one file shares. batch_id stays NULL (there is no Batch row, and no foreign key).
COPY_COLUMNS = ("age", "sex", "bmi", "children", "smoker", "region", "predicted_charges", "predicted_charges_low",
                "predicted_charges_high", "model_version_id", "source", "created_at")
REPORTED = re.compile(r"rows scored as batch \d+ in ([0-9.]+) s")


def members_csv_write(path: Path, rows: int = ROWS, *, seed: int = SEED) -> None:
    """The patients' file bench/run.py's measure_predict_csv writes (the same rows for the same seed)."""
    import random

    from bench.harness import RECORD, random_record

    rng = random.Random(seed)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(RECORD))
        writer.writeheader()
        writer.writerows(random_record(rng) for _ in range(rows))


def frame_problems(frame) -> int:
    """How many rows fail the form's plain checks, computed on whole columns: numbers of the right kind within
    the form's limits, words among its choices, nothing missing."""
    import numpy as np

    from predictor.forms import LIMITS
    from predictor.models import Prediction

    good = np.ones(len(frame), dtype=bool)
    for name, (low, high) in LIMITS.items():
        column = frame[name]
        if name != "bmi" and column.dtype.kind not in "iu":  # ages and children are whole numbers
            return len(frame)
        good &= column.notna().to_numpy() & (column >= low).to_numpy() & (column <= high).to_numpy()
    for name, choices in (("sex", Prediction.Sex.values), ("smoker", Prediction.Smoker.values),
                          ("region", Prediction.Region.values)):
        good &= frame[name].isin(choices).to_numpy()
    return int((~good).sum())


def scratch_table_name() -> str:
    return f"bench_bound_scratch_{os.getpid()}"


def bound_measure(source: Path, *, model, model_version_id: int) -> dict:
    """Time each step of the bound on the file at ``source`` with a loaded model (``predictor.ml.artifacts``);
    the scratch table is dropped afterwards, whatever happens."""
    import numpy as np
    import pandas as pd
    from django.db import connection, transaction
    from django.utils import timezone

    from predictor.features import FEATURES
    from predictor.ml.interval import prediction_intervals

    seconds: dict[str, float] = {}
    table = scratch_table_name()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE TABLE "{table}" (LIKE predictor_prediction INCLUDING ALL)')
    try:
        started = time.perf_counter()
        frame = pd.read_csv(source)
        seconds["read_csv"] = time.perf_counter() - started

        started = time.perf_counter()
        problems = frame_problems(frame)
        seconds["checks"] = time.perf_counter() - started
        if problems:
            raise ValueError(f"{source}: {problems} rows fail the checks; the bound scores valid rows only")

        started = time.perf_counter()
        points = np.asarray(model.pipeline.predict(frame[list(FEATURES)]), dtype="float64")
        low, high = prediction_intervals(points, frame["smoker"].to_numpy(), frame["bmi"].to_numpy(),
                                         model.card["interval"])
        seconds["predict"] = time.perf_counter() - started

        started = time.perf_counter()
        rows = frame[list(FEATURES)].assign(
            # Rounded to the cent (half to even on the binary value, where the app rounds the decimal half
            # up: the same text but for a value within 1e-9 of a half cent).
            predicted_charges=np.round(points, 2), predicted_charges_low=np.round(low, 2),
            predicted_charges_high=np.round(high, 2), model_version_id=model_version_id, source="batch",
            created_at=timezone.now().isoformat(),
        )
        buffer = io.StringIO()
        rows.to_csv(buffer, sep="\t", header=False, index=False, columns=list(COPY_COLUMNS))
        buffer.seek(0)
        seconds["format"] = time.perf_counter() - started

        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.copy_expert(f'COPY "{table}" ({", ".join(COPY_COLUMNS)}) FROM STDIN', buffer)
        seconds["copy_commit"] = time.perf_counter() - started

        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{table}"')
            copied = cursor.fetchone()[0]
        seconds_keys = foreign_keys_measure(rows, table=f"{table}_keys")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{table}"')
    result = {name: round(value, 3) for name, value in seconds.items()}
    result["total"] = round(sum(seconds.values()), 3)
    result["rows"] = len(frame)
    result["rows_copied"] = copied
    result["foreign_keys"] = round(seconds_keys, 3)
    return result


def foreign_keys_measure(rows, *, table: str) -> float:
    """The same rows COPYed into a copy of the table that also has predictor_prediction's foreign keys to the
    model version and the batch (deferred, as Django makes them), checked before the end: what the bound
    leaves out and a stored batch cannot. One PostgreSQL check per row and key, at commit; rolled back here,
    and the copy dropped, whatever happens."""
    from django.db import connection, transaction

    from predictor.models import Batch

    seconds = 0.0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f'CREATE TABLE "{table}" (LIKE predictor_prediction INCLUDING ALL)')
            for column, target in (("model_version_id", "predictor_modelversion"), ("batch_id", "predictor_batch")):
                cursor.execute(f'ALTER TABLE "{table}" ADD FOREIGN KEY ({column}) REFERENCES {target} (id) '
                               "DEFERRABLE INITIALLY DEFERRED")
            batch = Batch.objects.create(file_name="bound.csv", row_count=len(rows))
            buffer = io.StringIO()
            rows.assign(batch_id=batch.pk).to_csv(buffer, sep="\t", header=False, index=False,
                                                 columns=[*COPY_COLUMNS, "batch_id"])
            buffer.seek(0)
            started = time.perf_counter()
            cursor.copy_expert(f'COPY "{table}" ({", ".join(COPY_COLUMNS)}, batch_id) FROM STDIN', buffer)
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the checks a commit would make, made now
            seconds = time.perf_counter() - started
            raise _RolledBack
    except _RolledBack:
        pass
    return seconds


class _RolledBack(Exception):
    """Leaves foreign_keys_measure's transaction, undoing its batch and its table."""


def predict_csv_timed(source: Path, target: Path) -> dict:
    """``manage.py predict_csv SOURCE TARGET`` through ``call_command`` in this process, whose model is
    loaded already: the seconds the command reports (to a tenth) and the same call's time to the
    millisecond, both start-up aside."""
    from django.core.management import call_command

    errors = io.StringIO()
    started = time.perf_counter()
    call_command("predict_csv", str(source), str(target), no_progress=True, stderr=errors)
    seconds = time.perf_counter() - started
    match = REPORTED.search(errors.getvalue())
    return {"seconds": round(seconds, 3), "reported_seconds": float(match.group(1)) if match else None}


def bound_ratio(predict_csv_seconds: float, bound_seconds: float) -> float:
    return round(predict_csv_seconds / bound_seconds, 2)


def bound_lines(result: dict) -> list[str]:
    """The bound's figures as bench/run.py prints them."""
    lines = [f"lower bound of batch work on the same {result['rows']:,} rows (model load and start-up aside):"]
    lines += [f"  {STEP_LABELS[step]:<82}{result[step]:>7.2f} s" for step in STEPS]
    lines.append(f"  {'the bound in all':<82}{result['total']:>7.2f} s")
    if "foreign_keys" in result:
        lines.append(f"  {KEYS_LABEL:<82}{result['foreign_keys']:>7.2f} s")
    command = result.get("predict_csv")
    if command:
        lines.append(
            f"predict_csv of the same rows, start-up aside: {command['seconds']:.2f} s (the command reports "
            f"{command['reported_seconds']} s), {result['ratio']:.2f}x the bound (target at most {TARGET_RATIO}x); "
            f"start-up apart: Python and Django {result['startup_seconds']:.2f} s, the model load "
            f"{result['model_load_seconds']:.2f} s"
        )
        if "foreign_keys" in result:
            with_keys = result["total"] - result["copy_commit"] + result["foreign_keys"]
            lines.append(f"the bound with the foreign keys checked: {with_keys:.2f} s; predict_csv is "
                         f"{bound_ratio(command['seconds'], with_keys):.2f}x that")
    return lines


def bound_checks(result: dict) -> list[tuple[str, bool]]:
    """bench/run.py's verdict lines for the bound."""
    command = result["predict_csv"]
    return [
        (f"predict_csv of {result['rows']:,} rows, start-up aside: {command['seconds']:.2f} s, {result['ratio']:.2f}x "
         f"the lower bound's {result['total']:.2f} s (target at most {TARGET_RATIO}x)",
         result["ratio"] <= TARGET_RATIO),
        (f"the bound copied {result['rows_copied']:,} rows of {result['rows']:,}", result["rows_copied"] == result["rows"]),
    ]


def bound_run(*, rows: int = ROWS, env: dict[str, str]) -> dict:
    """Run this module in a process of its own with the app's environment ``env`` (its database and active
    model); its results."""
    from bench.harness import ROOT, log

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "bound.json"
        subprocess.run([sys.executable, "-m", "bench.bound", "--rows", str(rows), "--json", str(output)], cwd=ROOT,
                       env=env, check=True, stdout=subprocess.DEVNULL)
        result = json.loads(output.read_text())
    log(f"bound: {result}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=ROWS, help=f"rows in the file (default {ROWS:,})")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    import django
    import psutil

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insurance_site.settings")
    django.setup()
    startup = time.time() - psutil.Process().create_time()
    from predictor import serving

    started = time.perf_counter()
    model, version = serving.model_serving()
    model_load = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "members.csv", Path(folder) / "scored.csv"
        members_csv_write(source, args.rows)
        # predict_csv first, so that the bound, not the command, runs on warm caches: the ratio errs high.
        command = predict_csv_timed(source, target)
        gc.collect()
        result = bound_measure(source, model=model, model_version_id=version.pk)
    result.update(startup_seconds=round(startup, 2), model_load_seconds=round(model_load, 2), predict_csv=command,
                  ratio=bound_ratio(command["seconds"], result["total"]))
    print("\n".join(bound_lines(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
