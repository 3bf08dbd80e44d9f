"""predictor/api/schemas.py: the plain-value lane of an input's check gives what the form field's clean gives."""

import math
import random

import pytest
from django import forms

from predictor.api.schemas import _NOT_PLAIN, _json_type_ok, _plain_clean
from predictor.forms import PredictionForm

VALUES = [
    None, True, False, 0, 1, 2, 5, 9, 10, 11, 17, 18, 19, 42, 64, 99, 100, 101, -1, 10**30, 2**63,
    0.0, -0.0, 9.99, 10.0, 10.000001, 27.9, 69.99, 70.0, 70.000001, 18.0, 42.5, 100.0, 1e308,
    math.nan, math.inf, -math.inf,
    "", "42", "27.9", "female", "male", "Female", " male", "yes", "no", "YES", "northeast", "northwest",
    "southeast", "southwest", "north", [], {}, [42],
]


def form_clean(field: forms.Field, value):
    """The oracle: the JSON type rule, then the form field's own clean; ("refused",) when either refuses."""
    if value is not None and not _json_type_ok(field, value):
        return ("refused",)
    try:
        return field.clean(value)
    except forms.ValidationError:
        return ("refused",)


@pytest.mark.parametrize("name", list(PredictionForm.base_fields))
def test_the_plain_lane_gives_the_forms_value_or_hands_the_value_on(name):
    field = PredictionForm.base_fields[name]
    plain = _plain_clean(field)
    rng = random.Random(name)
    values = VALUES + [rng.uniform(-5, 120) for _ in range(500)] + [rng.randint(-5, 120) for _ in range(500)]
    taken = 0
    for value in values:
        cleaned = plain(value)
        if cleaned is _NOT_PLAIN:
            continue
        taken += 1
        expected = form_clean(field, value)
        assert cleaned == expected and type(cleaned) is type(expected), (name, value)
    assert taken >= 2  # the lane is used, on every kind of field (sex has two words)


@pytest.mark.parametrize("name", list(PredictionForm.base_fields))
def test_what_the_form_refuses_never_takes_the_plain_lane(name):
    field = PredictionForm.base_fields[name]
    plain = _plain_clean(field)
    for value in VALUES:
        if form_clean(field, value) == ("refused",):
            assert plain(value) is _NOT_PLAIN, (name, value)
