"""The roster loader: merged defaults, and errors that give file, line and field."""

import json
from pathlib import Path

import pytest

from openclaw_fleet.roster import RosterError, load_roster
from openclaw_fleet.roster.docs import json_schema

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "roster.yaml"
    path.write_text(text)
    return path


def test_example_roster_loads_with_defaults_applied():
    users = load_roster(ROOT / "users" / "roster.yaml")
    assert [u.id for u in users] == ["user_2abc123def456", "user_2grace0hopper1", "user_2alan0turing42"]
    ada, grace, alan = users
    assert (ada.model, ada.size, ada.memory_mb) == ("anthropic/claude-sonnet-4-5", "shared-cpu-1x", 2048)
    assert (ada.region, ada.state) == ("sjc", "running")
    assert grace.model == "openai/gpt-5.1"
    assert (alan.size, alan.memory_mb) == ("shared-cpu-2x", 4096)
    assert ada.short_id == "abc123def456"


def test_user_fields_override_and_merge_defaults(tmp_path):
    users = load_roster(
        write(
            tmp_path,
            """
defaults:
  state: stopped
  providerKeys: {ANTHROPIC_API_KEY: team-anthropic}
  env: {TZ: UTC}
users:
  - id: user_1
    name: One
    providerKeys: {OPENAI_API_KEY: one-openai}
    env: {LANG: C.UTF-8}
  - id: user_2
    name: Two
    state: running
    providerKeys: {ANTHROPIC_API_KEY: two-anthropic}
""",
        )
    )
    one, two = users
    assert one.state == "stopped" and two.state == "running"
    assert one.provider_keys == {"ANTHROPIC_API_KEY": "team-anthropic", "OPENAI_API_KEY": "one-openai"}
    assert two.provider_keys == {"ANTHROPIC_API_KEY": "two-anthropic"}
    assert one.key_lines == {"ANTHROPIC_API_KEY": 4, "OPENAI_API_KEY": 9}  # where each reference is written
    assert one.env == {"TZ": "UTC", "LANG": "C.UTF-8"}


@pytest.mark.parametrize(
    "body, line, field, words",
    [
        ("users:\n  - id: user_1\n    name: A\n    modle: x/y\n", 4, "users[0].modle", "unknown field"),
        ("users:\n  - id: user_1\n    name: A\n    size: huge\n", 4, "users[0].size", "Input should be"),
        (
            "users:\n  - id: user_1\n    name: A\n    size: shared-cpu-1x\n    memoryMb: 4096\n",
            5,
            "users[0].memoryMb",
            "shared-cpu-1x takes 256 to 2048 MB in steps of 256",
        ),
        (
            "defaults:\n  memoryMb: 1000\nusers:\n  - id: user_1\n    name: A\n",
            2,
            "defaults.memoryMb",
            "in steps of 256",
        ),
        ("users:\n  - id: bob\n    name: A\n", 2, "users[0].id", "must be a Clerk user id"),
        ("users:\n  - id: user_1\n", 2, "users[0].name", "required field is missing"),
        (
            "users:\n  - id: user_1\n    name: A\n    env:\n      NODE_OPTIONS: x\n",
            5,
            "users[0].env.NODE_OPTIONS",
            "not an allowed name",
        ),
        (
            "users:\n  - id: user_1\n    name: A\n    providerKeys:\n      FOO_KEY: team-x\n",
            5,
            "users[0].providerKeys.FOO_KEY",
            "not an allowed name",
        ),
        (
            "users:\n  - id: user_1\n    name: A\n    whatsappOwner: '5551234'\n",
            4,
            "users[0].whatsappOwner",
            "must be an E.164 phone number: + and the country code, such as +15551234567",
        ),
        ("defaults:\n  model: no-slash\nusers: []\n", 2, "defaults.model", "must be `provider/model`"),
        ("users:\n  - id: user_1\n    name: A\n    region: xyz\n", 4, "users[0].region", "not a Fly region"),
        (
            "users:\n  - id: user_1\n    name: A\n    tokenRotation: 1" + "0" * 400 + "\n",
            4,
            "users[0].tokenRotation",
            "less than or equal",
        ),
        (
            "users:\n  - id: user_1\n    name: A\n    providerKeys:\n      sk-ant-api03-abcdefgh: team-x\n",
            5,
            "users[0].providerKeys.(a key that is not a field name)",
            "not an allowed name",
        ),
        (
            "a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
            6,
            "roster",
            "more than 500,000 values once its YAML aliases are expanded",
        ),
        ("users: " + "[" * 40 + "]" * 40 + "\n", 1, "roster", "nested more than 16 levels deep"),
        ("users:\n  - id: user_1\n    name: A\n    name: B\n", 4, "name", "duplicate key"),
    ],
)
def test_bad_roster_names_file_line_and_field(tmp_path, body, line, field, words):
    path = write(tmp_path, body)
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    problem = caught.value.problems[0]
    assert problem.startswith(f"{path}:{line}: {field}: "), problem
    assert words in problem


def test_plaintext_provider_key_is_refused_and_not_echoed(tmp_path):
    secret = "sk-live-0123456789ABCDEFghijklmnop_qrstuvwxyz0123456789"  # a lowercase short one: test_secret_sources
    path = write(tmp_path, f"users:\n  - id: user_1\n    name: A\n    providerKeys:\n      OPENAI_API_KEY: {secret}\n")
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert "must name a secret source the stack declares" in str(caught.value)
    assert secret not in str(caught.value)


def test_a_missing_roster_file_is_a_roster_error(tmp_path):
    with pytest.raises(RosterError, match=r"roster.yaml:1: roster: no such file"):
        load_roster(tmp_path / "roster.yaml")


def test_two_users_with_the_same_short_id_are_named_together(tmp_path):
    path = write(
        tmp_path,
        """users:
  - id: user_Aabc123def456
    name: A
  - id: user_Babc123def456
    name: B
""",
    )
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    message = str(caught.value)
    assert f"{path}:4:" in message
    assert "user_Aabc123def456" in message and "user_Babc123def456" in message and "short id" in message


def test_yaml_syntax_error_has_a_line(tmp_path):
    path = write(tmp_path, "users:\n  - id: user_1\n    name: [unclosed\n")
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert caught.value.problems[0].startswith(f"{path}:")
    assert "YAML syntax" in caught.value.problems[0]


def test_committed_schema_matches_the_models():
    committed = json.loads((ROOT / "users" / "roster.schema.json").read_text())
    assert committed == json_schema(), (
        "regenerate: python -m openclaw_fleet.roster.docs --schema > users/roster.schema.json"
    )


def test_schema_lists_allowed_provider_keys():
    keys = json_schema()["$defs"]["UserEntry"]["properties"]["providerKeys"]["anyOf"][0]
    assert "OPENAI_API_KEY" in keys["propertyNames"]["enum"]
    assert "NODE_OPTIONS" not in keys["propertyNames"]["enum"]


def test_committed_docs_table_matches_the_models():
    from openclaw_fleet.roster.docs import docs_table

    assert docs_table() in (ROOT / "users" / "ROSTER.md").read_text(), "regenerate users/ROSTER.md"


def test_sizes_are_flys_and_the_old_names_are_aliases(tmp_path):
    roster = tmp_path / "roster.yaml"
    roster.write_text(
        "users:\n"
        "  - {id: user_1, name: A, size: shared-cpu-1x}\n"
        "  - {id: user_2, name: B, size: performance-4x}\n"
        "  - {id: user_3, name: C, size: large}\n"
        "  - {id: user_4, name: D, size: shared-cpu-2x, memoryMb: 1024}\n"
    )
    sizes = [(user.size, user.memory_mb) for user in load_roster(roster)]
    # Fly's preset memory, raised to OpenClaw's 2 GB where the preset has less; aliases as before.
    assert sizes == [
        ("shared-cpu-1x", 2048),
        ("performance-4x", 8192),
        ("performance-2x", 8192),
        ("shared-cpu-2x", 1024),
    ]


@pytest.mark.parametrize("where", ["top", "name", "env"])
def test_a_long_chain_of_aliases_is_a_roster_error_not_a_crash(tmp_path, where):
    """100 anchors, each 14 levels deep and aliasing the one before: each is within the depth
    bound, but following the aliases reaches 1,400 levels (the duplicate-key walk once recursed)."""
    lines = ["anchors:"]
    for index in range(100):
        lines.append(f"  - &a{index} " + "[" * 13 + (f"*a{index - 1}" if index else "1") + "]" * 13)
    lines.append("users:")
    lines.append("  - id: user_1")
    lines.append("    name: *a99" if where == "name" else "    name: A")
    if where == "env":
        lines.append("    env: {TZ: *a99}")
    path = write(tmp_path, "\n".join(lines) + "\n")
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert f"{path}:1: anchors: unknown field" in caught.value.problems
