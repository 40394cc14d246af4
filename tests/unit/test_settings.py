"""Numeric settings keep an explicit 0 and are checked against their range, naming the key only."""

import pytest

from openclaw_fleet.settings import NUMBERS, number


def test_unset_is_the_default_and_an_explicit_zero_stays_zero():
    assert number("massDeletionShare", None) == NUMBERS["massDeletionShare"][0]
    assert number("massDeletionShare", "0") == 0.0
    assert number("massDeletionMinimum", 0) == 0


@pytest.mark.parametrize(
    "key, raw, words",
    [
        ("volumeSizeGb", "0", "between 1 and 500"),
        ("massDeletionShare", "1.5", "between 0.0 and 1.0"),
        ("shards", "9" * 400, "between 1 and 256"),
        ("healthTimeoutSeconds", "sk-live-abcdef", "a whole number"),
    ],
)
def test_a_bad_value_names_the_key_and_range_not_the_value(key, raw, words):
    with pytest.raises(ValueError) as caught:
        number(key, raw)
    assert str(caught.value) == f"openclaw-fleet:{key} must be {words}"
    assert len(raw) < 3 or raw not in str(caught.value)
