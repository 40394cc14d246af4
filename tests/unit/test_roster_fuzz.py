"""Hostile rosters (hypothesis): whatever the file holds, ``load_roster`` returns users or raises
RosterError, within a second, and no error message repeats a value from the file.

Generated: rosters shaped like real ones with wrong types, unknown and secret-looking keys and
values, huge numbers and strings; and raw texts: YAML syntax errors, alias bombs, deep nesting,
huge scalars, binary junk. ``--hypothesis-seed`` reproduces a run; ``HYPOTHESIS_EXAMPLES`` sets
how many rosters (default 1,000 per run); ``--hypothesis-show-statistics`` counts valid rosters
and clean errors.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from openclaw_fleet.roster import RosterError, load_roster
from openclaw_fleet.roster.docs import json_schema

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES") or 1000)
USER_FIELDS = [
    "id",
    "name",
    "state",
    "region",
    "size",
    "model",
    "providerKeys",
    "whatsappOwner",
    "env",
    "deprovision",
    "telegramPairings",
    "adopt",
    "restore",
    "tokenRotation",
]
SECRETISH = st.from_regex(r"sk-ant-api03-[A-Za-z0-9_-]{20,40}", fullmatch=True)
# Near-misses and valid values; the messages' own examples (such as +15551234567) are among them,
# so these are not counted as echoed.
EXAMPLES_IN_MESSAGES = [
    "sjc",
    "xyz",
    "small",
    "huge",
    "running",
    "team-anthropic",
    "user_2abc123",
    "+15551234567",
]
PLAUSIBLE = st.sampled_from([*EXAMPLES_IN_MESSAGES, "latest"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**400),
    st.floats(),
    st.text(max_size=30),
    st.text(min_size=2000, max_size=5000, alphabet="ab"),
    PLAUSIBLE,
    SECRETISH,
)
KEYS = st.one_of(
    st.sampled_from([*USER_FIELDS, "defaults", "users", "OPENAI_API_KEY", "TZ"]), st.text(max_size=12), SECRETISH
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
USER = st.fixed_dictionaries(
    {"id": st.one_of(st.from_regex(r"user_[A-Za-z0-9]{1,16}", fullmatch=True), VALUES)},
    optional={field: st.one_of(PLAUSIBLE, VALUES) for field in USER_FIELDS[1:]} | {"bogus": VALUES},
)
ROSTER = st.one_of(
    st.fixed_dictionaries({}, optional={"defaults": st.one_of(USER, VALUES), "users": st.lists(USER, max_size=4)}),
    VALUES,
)
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
    f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(9)
)
RAW = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda data: data.decode("latin-1")),
    st.just(BOMB + "users: *j\n"),
    st.integers(min_value=100, max_value=20000).map(lambda depth: "users: " + "[" * depth + "]" * depth),
    st.integers(min_value=100, max_value=20000).map(
        lambda depth: "users:\n" + "".join(" " * i + "- \n" for i in range(depth))
    ),
    st.integers(min_value=1, max_value=30).map(lambda mb: "users: [{id: user_a, name: " + "x" * (mb * 100_000) + "}]"),
)


def strings_in(data) -> list[str]:
    """Every string in ``data`` (keys and values) a message must not repeat: values of 8+
    characters, and keys of 8+ characters that do not look like a field name."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and len(key) >= 8 and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,31}", key):
                found.append(key)
            found += strings_in(value)
    elif isinstance(data, list):
        for item in data:
            found += strings_in(item)
    elif isinstance(data, str) and len(data) >= 8:
        found.append(data)
    elif isinstance(data, int) and not isinstance(data, bool) and abs(data) >= 10**8:
        found.append(str(data))
    return found


def enum_values(schema) -> list[str]:
    """Every allowed value the roster's JSON Schema lists (sizes, regions, states, …): the messages
    name them on their own, so a file holding one is not echoed."""
    if isinstance(schema, dict):
        own = [value for value in schema.get("enum", []) if isinstance(value, str)]
        return own + [value for item in schema.values() for value in enum_values(item)]
    if isinstance(schema, list):
        return [value for item in schema for value in enum_values(item)]
    return []


ALLOWED_VALUES = enum_values(json_schema())


def repeats(message: str, value: str) -> bool:
    """Whether ``message`` holds ``value`` standing on its own, not inside a longer word of the
    message's own text (``performa`` is in the allowed size ``performance-1x``, not an echo)."""
    return re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", message) is not None


# The documentation a message cites (fly.io/docs/reference/regions): its own text, whose words
# (``reference``) a generated value may happen to be.
CITED_ADDRESS = re.compile(r"[\w.-]+\.(?:io|ai|com)/[\w/#.-]*")
# A valid user id (the roster schema's pattern): the messages name a user by it ("users.user_2abc:
# id 'user_2abc' is also used by …"), as they name fields.
USER_ID = re.compile(json_schema()["$defs"]["UserEntry"]["properties"]["id"]["pattern"])


def echoed_values(message: str, data) -> list[str]:
    """The strings of ``data`` that ``message`` repeats, leaving out section and field names,
    valid user ids, the messages' own examples, the allowed values they list and the addresses
    they cite."""
    known = ["defaults", "users", *USER_FIELDS, *EXAMPLES_IN_MESSAGES, *ALLOWED_VALUES]
    message = CITED_ADDRESS.sub(" ", message)
    return [
        value
        for value in strings_in(data)
        if repeats(message, value) and value not in known and not USER_ID.search(value)
    ]


def check(path: Path, text: str, data=None) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    started = time.monotonic()
    try:
        load_roster(path)
        event("valid roster")
    except RosterError as error:
        event("RosterError")
        message = str(error)
        assert all(str(path) in line for line in message.splitlines()[1:]), message
        echoed = echoed_values(message, data)
        assert not echoed, f"the message repeats {echoed!r}: {message}"
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"took {elapsed:.2f} s"


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=False)
@given(
    st.one_of(ROSTER.map(lambda data: (yaml.safe_dump(data, allow_unicode=True), data)), RAW.map(lambda t: (t, None)))
)
def test_any_roster_loads_or_fails_with_a_roster_error_fast_and_without_echoing_values(tmp_path_factory, case):
    text, data = case
    check(tmp_path_factory.mktemp("fuzz") / "roster.yaml", text, data)


def test_a_value_inside_the_messages_own_words_is_not_an_echo_but_one_on_its_own_is(tmp_path):
    """Found by the fuzzer: ``bogus: performa`` and then ``bogus: performance-1x`` failed the check
    because the size error lists ``performance-1x``."""
    near_misses = [{"bogus": "performa", "size": "sjc"}, {"bogus": "performance-1x", "size": 1}]
    for data in ({"defaults": defaults} for defaults in near_misses):
        path = tmp_path / "roster.yaml"
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(RosterError) as failed:
            load_roster(path)
        assert "performance-1x" in str(failed.value) and echoed_values(str(failed.value), data) == []
    assert "performance-1x" in ALLOWED_VALUES and "sjc" in ALLOWED_VALUES
    assert repeats("x.bogus: got performa, expected", "performa")
    assert not repeats("Input should be 'performance-1x'", "performa")
