"""The other files of rows against their lower bound (issue 25): an API batch, and a file of actual charges.

    .venv/bin/python -m bench.bound_paths [--api-rows 10000] [--actuals-rows 200000] [--json results.json]

In one process with the model loaded (start-up aside, as bench/bound.py does for ``predict_csv``):

- **An API batch** of ``--api-rows`` random patients (``bench.harness.random_record``), POSTed as one JSON
  array to ``/api/v1/predictions`` through Django's test client (the whole view: parsing, the schema's
  checks, the columnar path, the JSON answer; no socket), best of three; then bench/bound.py's bound
  (``bound_measure``) on the same rows written as a CSV file. The API parses JSON where the bound reads CSV:
  the two formats' reading is in the figures.
- **A file of actual charges** for ``--actuals-rows`` stored predictions (stored first by ``predict_csv``,
  not timed): ``manage.py record_actuals`` (``call_command``), then its bound on scratch copies of
  ``predictor_prediction`` and ``predictor_actualchargechange`` holding the same rows: pandas ``read_csv``;
  vectorised checks (ids positive, amounts from 0 to 1,000,000); COPY of the pairs into a temporary table;
  one statement that locks the rows, writes the new amounts and inserts the audit trail with the
  previous ones; the commit. An unknown id is checked by the count the statement returns.

The rate limits are the bench's raised ones (``bench.harness.server_env``). bench/run.py runs this module
after the bound (``paths_run``) and prints ``paths_lines``; the ratios are reported, with no target.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

API_ROWS = 10_000
ACTUALS_ROWS = 200_000
SEED = 25
ACTUALS_STEPS = ("read_csv", "checks", "copy", "update_audit", "commit")
ACTUALS_LABELS = {
    "read_csv": "pandas read_csv",
    "checks": "vectorised checks (ids positive, amounts 0 to 1,000,000)",
    "copy": "COPY of the pairs into a temporary table",
    "update_audit": "one statement: lock, write the amounts, insert the audit trail",
    "commit": "the commit",
}


def api_batch_measure(rows: int, *, model, model_version_id: int, repeats: int = 3) -> dict:
    """The API batch's best time of ``repeats`` through the test client, and the bound on the same rows."""
    from django.test import Client

    from bench.bound import bound_measure
    from bench.harness import random_record

    rng = random.Random(SEED)
    records = [random_record(rng) for _ in range(rows)]
    body = json.dumps(records)
    client = Client(HTTP_HOST="127.0.0.1")
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.post("/api/v1/predictions", body, content_type="application/json")
        answer = response.content
        timings.append(time.perf_counter() - started)
        if response.status_code != 201:
            raise SystemExit(f"the API batch answered {response.status_code}: {answer[:300]!r}")
        if len(json.loads(answer)["predictions"]) != rows:
            raise SystemExit("the API batch answered another number of predictions")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "records.csv"
        with open(source, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(records[0]))
            writer.writeheader()
            writer.writerows(records)
        bound = bound_measure(source, model=model, model_version_id=model_version_id)
    seconds = min(timings)
    return {"rows": rows, "seconds": [round(t, 3) for t in timings], "best_seconds": round(seconds, 3),
            "body_mb": round(len(body) / 2**20, 2), "bound": bound, "ratio": round(seconds / bound["total"], 2)}


def _stored_batch(rows: int, folder: Path) -> list[int]:
    """Store ``rows`` random patients with predict_csv (not timed); their ids, in order."""
    from django.core.management import call_command

    from bench.bound import members_csv_write
    from predictor.models import Batch, Prediction

    source, target = folder / "members.csv", folder / "scored.csv"
    members_csv_write(source, rows, seed=SEED)
    call_command("predict_csv", str(source), str(target), no_progress=True, stderr=io.StringIO())
    batch = Batch.objects.latest("id")
    return list(Prediction.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))


def actuals_measure(rows: int) -> dict:
    """record_actuals of a file for ``rows`` stored predictions, and the bound on scratch copies of the same rows."""
    from django.core.management import call_command

    with tempfile.TemporaryDirectory() as folder:
        ids = _stored_batch(rows, Path(folder))
        rng = random.Random(SEED)
        source = Path(folder) / "actuals.csv"
        with open(source, "w", newline="") as handle:
            handle.write("prediction_id,actual_charges\n")
            handle.writelines(f"{pk},{rng.uniform(1_000, 60_000):.2f}\n" for pk in ids)
        output = io.StringIO()
        started = time.perf_counter()
        call_command("record_actuals", str(source), stdout=output, stderr=io.StringIO())
        seconds = time.perf_counter() - started
        bound = actuals_bound_measure(source, ids)
    return {"rows": rows, "seconds": round(seconds, 3), "bound": bound, "ratio": round(seconds / bound["total"], 2),
            "reported": output.getvalue().strip()}


def actuals_bound_measure(source: Path, ids: list[int]) -> dict:
    """Time the bound of recording the file at ``source`` on scratch copies of the rows ``ids``; dropped afterwards."""
    import numpy as np
    import pandas as pd
    from django.db import connection

    predictions, audit = "bench_actuals_scratch_predictions", "bench_actuals_scratch_audit"
    seconds: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE {predictions} (LIKE predictor_prediction INCLUDING ALL)")
        cursor.execute(f"CREATE TABLE {audit} (LIKE predictor_actualchargechange INCLUDING ALL)")
        cursor.execute(f"INSERT INTO {predictions} SELECT * FROM predictor_prediction WHERE id = ANY(%s)", [ids])
        cursor.execute(f"UPDATE {predictions} SET actual_charges = NULL")
    try:
        started = time.perf_counter()
        frame = pd.read_csv(source, dtype={"prediction_id": "int64", "actual_charges": "float64"})
        seconds["read_csv"] = time.perf_counter() - started

        started = time.perf_counter()
        amounts = frame["actual_charges"].to_numpy()
        bad = (frame["prediction_id"].to_numpy() <= 0) | ~np.isfinite(amounts) | (amounts < 0) | (amounts > 1_000_000)
        if bad.any() or frame["prediction_id"].duplicated().any():
            raise ValueError(f"{source}: rows fail the checks; the bound records valid rows only")
        seconds["checks"] = time.perf_counter() - started

        with connection.cursor() as cursor:
            cursor.execute("BEGIN")
            started = time.perf_counter()
            cursor.execute("CREATE TEMPORARY TABLE bench_actuals_pairs (id bigint, charges numeric(12, 2)) ON COMMIT DROP")
            buffer = io.StringIO()
            frame.to_csv(buffer, sep="\t", header=False, index=False, float_format="%.2f")
            buffer.seek(0)
            cursor.copy_expert("COPY bench_actuals_pairs FROM STDIN", buffer)
            seconds["copy"] = time.perf_counter() - started

            started = time.perf_counter()
            cursor.execute(
                f"WITH previous AS (SELECT p.id, p.actual_charges AS before, v.charges FROM {predictions} AS p"
                f"  JOIN bench_actuals_pairs AS v ON v.id = p.id FOR UPDATE OF p),"
                f" written AS (UPDATE {predictions} AS p SET actual_charges = previous.charges,"
                f"  actual_recorded_at = now() FROM previous WHERE p.id = previous.id)"
                f" INSERT INTO {audit} (prediction_id, previous_charges, actual_charges, changed_at, channel)"
                f" SELECT id, before, charges, now(), 'command' FROM previous"
            )
            recorded = cursor.rowcount
            seconds["update_audit"] = time.perf_counter() - started
            if recorded != len(frame):
                cursor.execute("ROLLBACK")
                raise ValueError(f"{len(frame) - recorded} ids are not stored predictions")
            started = time.perf_counter()
            cursor.execute("COMMIT")
            seconds["commit"] = time.perf_counter() - started
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {predictions}, {audit}")
    result = {name: round(value, 3) for name, value in seconds.items()}
    result["total"] = round(sum(seconds.values()), 3)
    result["rows"] = recorded
    return result


def paths_lines(result: dict) -> list[str]:
    """The figures as bench/run.py prints them."""
    api, actuals = result["api_batch"], result["actuals"]
    lines = [
        f"API batch of {api['rows']:,} records through the view (test client, start-up aside): best "
        f"{api['best_seconds']:.2f} s of {api['seconds']}, {api['ratio']:.2f}x the bound's {api['bound']['total']:.2f} s "
        f"on the same rows as CSV",
        f"record_actuals of {actuals['rows']:,} rows (start-up aside): {actuals['seconds']:.2f} s, "
        f"{actuals['ratio']:.2f}x its lower bound:",
    ]
    lines += [f"  {ACTUALS_LABELS[step]:<82}{actuals['bound'][step]:>7.2f} s" for step in ACTUALS_STEPS]
    lines.append(f"  {'the bound in all':<82}{actuals['bound']['total']:>7.2f} s")
    return lines


def paths_checks(result: dict) -> list[tuple[str, bool]]:
    """The counts bench/run.py checks: every row answered and recorded (the ratios have no target)."""
    actuals = result["actuals"]
    return [(f"the actual-charges bound recorded {actuals['bound']['rows']:,} rows of {actuals['rows']:,}",
             actuals["bound"]["rows"] == actuals["rows"])]


def paths_run(*, env: dict[str, str], api_rows: int = API_ROWS, actuals_rows: int = ACTUALS_ROWS) -> dict:
    """Run this module in a process of its own with the app's environment ``env``; its results."""
    from bench.harness import ROOT, log

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "paths.json"
        subprocess.run([sys.executable, "-m", "bench.bound_paths", "--api-rows", str(api_rows), "--actuals-rows",
                        str(actuals_rows), "--json", str(output)], cwd=ROOT, env=env, check=True,
                       stdout=subprocess.DEVNULL)
        result = json.loads(output.read_text())
    log(f"bound paths: {result}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--api-rows", type=int, default=API_ROWS, help=f"records in the API batch (default {API_ROWS:,})")
    parser.add_argument("--actuals-rows", type=int, default=ACTUALS_ROWS,
                        help=f"rows in the file of actual charges (default {ACTUALS_ROWS:,})")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args(argv)

    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insurance_site.settings")
    django.setup()
    from predictor import serving

    model, version = serving.model_serving()
    result = {"api_batch": api_batch_measure(args.api_rows, model=model, model_version_id=version.pk),
              "actuals": actuals_measure(args.actuals_rows)}
    print("\n".join(paths_lines(result)))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
