"""make bench's own code: a load's rounds merged into one line."""

import pytest

from bench.run import rounds_merge


def test_rounds_merge_sums_answers_and_takes_the_median_rounds_latencies():
    rounds = [
        {"requests": 800, "requests_per_second": 100.0, "answered_with_success": 800, "p50_ms": 10.19, "p99_ms": 17.37,
         "rows_stored": 800, "server_cpu_us_per_request": 1500},
        {"requests": 1200, "requests_per_second": 150.0, "answered_with_success": 1199, "p50_ms": 10.2, "p99_ms": 17.4,
         "rows_stored": 1199, "server_cpu_us_per_request": 1551},
    ]
    merged = rounds_merge(rounds)
    assert merged["requests"] == 2000 and merged["answered_with_success"] == 1999 and merged["rows_stored"] == 1999
    assert merged["requests_per_second"] == 125.0  # 2,000 requests over 8 + 8 seconds, not the mean of the rates
    # Two rounds: the mean of the middle two, rounded as the table prints it (10.195 once broke its columns).
    assert merged["p50_ms"] == pytest.approx(10.195, abs=0.006) and len(str(merged["p50_ms"])) <= 5
    assert merged["p99_ms"] == pytest.approx(17.385, abs=0.006) and len(str(merged["p99_ms"])) <= 5
    assert merged["server_cpu_us_per_request"] in (1525, 1526)


def test_run_measured_reports_a_commands_own_peak_memory_and_fails_loudly():
    import subprocess
    import sys

    from bench.run import run_measured

    seconds, peak_mb = run_measured([sys.executable, "-c", "block = bytearray(80 * 2**20); block[::4096] = b'x' * len(block[::4096])"])
    assert seconds > 0 and 80 <= peak_mb < 200  # the command's own, not this test process's
    with pytest.raises(subprocess.CalledProcessError):
        run_measured([sys.executable, "-c", "raise SystemExit(3)"])
