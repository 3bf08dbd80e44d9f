"""pg_copy: cents written from arrays exactly as Decimal(repr(value)).quantize(0.01, ROUND_HALF_UP) writes them."""

import random
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from predictor.pg_copy import CENT, cents_text


def decimal_cents(value: float) -> str:
    """What a Prediction stored one at a time holds (services._cents), as text."""
    return str(Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def test_random_charges_are_written_as_decimal_rounds_them():
    rng = random.Random(25)
    values = [rng.uniform(0, 80_000) for _ in range(100_000)] + [rng.uniform(-500, 500) for _ in range(10_000)]
    assert cents_text(np.array(values)) == [decimal_cents(value) for value in values]


def test_half_cents_round_up_and_away_from_zero_as_decimal_does():
    values = [
        0.005, 0.015, 0.025, 1.005, 2.675, 1234.565, 17076.045, 99999.995, 1e6 + 0.005, 12345678.125, -0.005, -2.675,
        -1234.565, 0.0, -0.0, -0.004, 0.004999999999999999, 0.0049999999999999999, 1e15 + 0.5, 1e17, 5e-324,
    ]
    assert cents_text(np.array(values)) == [decimal_cents(value) for value in values]


def test_every_half_cent_below_a_hundred_thousand_dollars_is_written_as_decimal_writes_it():
    rng = random.Random(5)
    values = [int(rng.uniform(0, 10_000_000)) / 100 + 0.005 for _ in range(50_000)]
    values += [float(f"{rng.uniform(0, 100_000):.2f}5") for _ in range(50_000)]
    assert cents_text(np.array(values)) == [decimal_cents(value) for value in values]


def test_what_is_not_a_number_is_left_to_decimal():
    assert cents_text(np.array([float("nan")])) == ["NaN"] == [decimal_cents(float("nan"))]


@settings(max_examples=500, deadline=None, derandomize=True, database=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12), min_size=1, max_size=20))
def test_any_float_is_written_as_decimal_writes_it(values):
    assert cents_text(np.array(values)) == [decimal_cents(value) for value in values]
