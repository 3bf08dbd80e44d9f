"""bench/statement.py's yardstick: CPU and wall time per execution."""

import time

from bench.statement import cost


def test_the_statement_yardstick_reports_cpu_and_wall_time_per_execution():
    def burn():  # about 2 ms of CPU, by the process's own clock
        start = time.process_time()
        while time.process_time() - start < 0.002:
            pass

    part = cost(burn, 100)
    assert 1800 <= part["user_us"] + part["system_us"] <= 4000  # the clock ticks a little past 2 ms
    assert part["wall_us"] >= 0.95 * (part["user_us"] + part["system_us"])
