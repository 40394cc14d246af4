"""The short-id rule hosted-OpenClaw services use, and the names derived from it."""

import pytest

from openclaw_fleet.roster.naming import instance_name, short_id


@pytest.mark.parametrize(
    "user_id, expected",
    [
        ("user_2abc123def456", "abc123def456"),  # last 12 chars
        ("user_ABC", "abc"),  # short ids are lowercased and may be shorter
        ("user_x_user_y", "x_user_y"),  # only the first "user_" is removed, as in JS replace
    ],
)
def test_short_id(user_id, expected):
    assert short_id(user_id) == expected


def test_instance_name_uses_prefix():
    assert instance_name("automna", "user_2abc123def456") == "automna-u-abc123def456"


def test_instance_name_rejects_names_fly_would_refuse():
    with pytest.raises(ValueError):
        instance_name("Bad_Prefix", "user_1")
