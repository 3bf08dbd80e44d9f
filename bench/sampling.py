"""What py-spy's shares mean: a loop that sends ``SELECT 1`` to PostgreSQL (a round trip) and then
computes for 200 µs, recorded by py-spy as `make bench-profile` records a worker, once on a quiet
machine and once with as many spinning processes as cores, plus one. It prints the share of the
samples that fell in the round trip each time: py-spy leaves out a process that sleeps waiting for
PostgreSQL, but counts one that PostgreSQL has woken and that waits for a busy core.

    sudo .venv/bin/python -m bench.sampling [--seconds 4]   (DATABASE_URL, default the local postgres)
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg2

from bench.harness import VENV_BIN

URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def round_trip(cursor) -> None:
    cursor.execute("SELECT 1")
    cursor.fetchone()


def compute(seconds: float = 0.0002) -> None:
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def loop(seconds: float) -> None:
    """The recorded process: a round trip, then 200 µs of computing, for ``seconds``."""
    connection = psycopg2.connect(URL)
    with connection.cursor() as cursor:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            round_trip(cursor)
            compute()
    connection.close()


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def share_in_round_trip(raw: Path) -> tuple[float, int]:
    """The share of py-spy's collapsed samples whose stack is in ``round_trip``, and the sample count."""
    inside = total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "loop (" in stack:
            total += int(count)
            inside += int(count) if "round_trip (" in stack else 0
    return (inside / total if total else float("nan")), total


def record(seconds: float, spinners: int, folder: Path) -> tuple[float, int]:
    others = [multiprocessing.Process(target=spin, args=(seconds + 2,)) for _ in range(spinners)]
    for process in others:
        process.start()
    recorded = multiprocessing.Process(target=loop, args=(seconds + 1,))
    recorded.start()
    time.sleep(0.5)
    raw = folder / f"spinners-{spinners}.txt"
    spy = subprocess.run([str(VENV_BIN / "py-spy"), "record", "--pid", str(recorded.pid), "--rate", "250",
                          "--format", "raw", "--duration", str(int(seconds)), "--output", str(raw), "--nonblocking"],
                         capture_output=True)
    recorded.join()
    for process in others:
        process.join()
    if spy.returncode != 0:
        raise SystemExit(f"py-spy failed (it needs root): {spy.stderr.decode()[-500:]}")
    return share_in_round_trip(raw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-sampling-"))
    cores = os.cpu_count() or 1
    print("\na loop of SELECT 1 then 200 µs of computing, sampled by py-spy at 250 Hz: share of samples in the round trip")
    for spinners in (0, cores + 1):
        share, samples = record(args.seconds, spinners, folder)
        print(f"  {spinners} spinning processes on {cores} cores: {100 * share:.0f} % of {samples} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
