"""The statement that stores a prediction, alone: the CPU time (user and system) and the wall time
one process spends per execution, on one connection in a loop, of

- ``SELECT 1`` (a round trip and nothing else),
- the prediction's INSERT as ``services`` sends it without a rate-limit count,
- the same INSERT with its rate-limit count (``services.prediction_row_insert``'s one statement);

each the best of 3 batches (the one that took the least CPU).

`make bench-profile` runs it after its loads, on their database (the values are those of the last
prediction the loads stored), as the yardstick for the statement's share of the profile. Run alone:

    DATABASE_URL=postgres://... DJANGO_SECRET_KEY=... .venv/bin/python -m bench.statement [--count 2000]
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable


def cost(run: Callable[[], object], count: int, repeat: int = 3) -> dict[str, float]:
    """Per execution, after 200 unmeasured, in µs: user and system CPU and wall time of the batch
    of ``count`` (of ``repeat`` such batches) that took the least CPU, as timeit takes the best."""
    for _ in range(200):
        run()
    batches = []
    for _ in range(repeat):
        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for _ in range(count):
            run()
        after, end = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        batches.append({"user_us": 1e6 * (after.ru_utime - before.ru_utime) / count,
                        "system_us": 1e6 * (after.ru_stime - before.ru_stime) / count,
                        "wall_us": 1e6 * (end - start) / count})
    return min(batches, key=lambda batch: batch["user_us"] + batch["system_us"])


def cost_line(label: str, part: dict[str, float]) -> str:
    """One printed line of a ``cost``: CPU (user and system) and wall time, in µs."""
    return (f"  {label:<38} CPU {part['user_us'] + part['system_us']:5.0f} µs (user {part['user_us']:.0f},"
            f" system {part['system_us']:.0f}), wall {part['wall_us']:.0f} µs")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2000, help="executions per batch (best of 3 batches)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "insurance_site.settings")
    import django

    django.setup()
    from django.db import connection

    from predictor import services
    from predictor.models import Prediction
    from predictor.security import ratelimit

    last = Prediction.objects.order_by("-id").first()
    if last is None:
        raise SystemExit("no stored prediction to copy: run a load (make bench-profile does) first")
    values = [getattr(last, field.attname) for field in services._INSERT_FIELDS]

    def insert(charge: ratelimit.Charge | None) -> int:
        return services.prediction_row_insert(values, charge)

    def select_one() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    runs = {
        "SELECT 1": select_one,
        "the INSERT alone": lambda: insert(None),
        "the INSERT with its rate-limit count": lambda: insert(ratelimit.Charge("anon:bench-statement", (10**9, 60))),
    }
    print(f"\none statement on one connection ({connection.vendor}), per execution, best of 3 batches of {args.count}:")
    for name, run in runs.items():
        print(cost_line(name, cost(run, args.count)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
