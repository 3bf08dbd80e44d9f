"""bench/statement.py's yardstick: CPU and wall time per execution."""

import time

from bench.statement import cost


def burn(seconds: float) -> None:
    """Spend ``seconds`` of CPU, by the process's own clock."""
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass


def test_the_statement_yardstick_reports_cpu_and_wall_time_per_execution():
    part = cost(lambda: burn(0.002), 100)
    assert 1800 <= part["user_us"] + part["system_us"] <= 4000  # the clock ticks a little past 2 ms
    assert part["wall_us"] >= 0.95 * (part["user_us"] + part["system_us"])


def test_the_yardstick_keeps_the_batch_that_took_the_least_cpu():
    calls = []

    def slow_then_fast():  # 2 ms through the 200 unmeasured calls and the first batch of 20, then 0.5 ms
        calls.append(None)
        burn(0.002 if len(calls) <= 220 else 0.0005)

    part = cost(slow_then_fast, 20, repeat=3)
    assert len(calls) == 200 + 3 * 20
    assert 450 <= part["user_us"] + part["system_us"] <= 1200
