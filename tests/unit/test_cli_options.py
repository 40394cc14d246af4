"""The ``fleet`` command in-process: every command's options parse into its typed object, a bad
value is exit 2 naming the flag before any stack (or anything else) runs, ``--help`` is exit 0,
and the commands that need no stack return their exit status instead of raising."""

import json
import os

import pytest

from openclaw_fleet.cli import commands, main
from openclaw_fleet.cli.options import (
    OPTIONS,
    CheckGithubOptions,
    DestroyOptions,
    IntakeOptions,
    MachinesOptions,
    PreviewOptions,
    RefreshOptions,
    RenderOptions,
    RolloutOptions,
    StatusOptions,
    UpOptions,
    parse,
)

STACK = ["--stack", "prod"]


@pytest.fixture
def no_stack_runs(monkeypatch):
    """Fail the test if any command over the fleet's stacks starts."""

    def started(*args, **kwargs):
        raise AssertionError(f"a stack command ran: {args}")

    monkeypatch.setattr(main, "run_command", started)


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["preview", *STACK, "--format", "json", "--output", "p.json", "--changed", "--trust-base", "main"],
            PreviewOptions("prod", None, 32, changed=True, format="json", output="p.json", trust_base="main"),
        ),
        (
            ["up", *STACK, "--shard", "2", "--of", "3", "--json", "--create-stacks", "--parallel", "8"],
            UpOptions("prod", None, 8, shard=2, of=3, json=True, create_stacks=True),
        ),
        (["rollout", *STACK, "--waves", "1,10,50"], RolloutOptions("prod", None, 32, waves=("1", "10", "50"))),
        (
            ["rollout", *STACK, "--waves", "1,10%,100%", "--canary", "staff_1", "--bake", "600", "--stop-after", "1"],
            RolloutOptions("prod", None, 32, waves=("1", "10%", "100%"), canaries=("staff_1",), bake=600, stop_after=1),
        ),
        (
            ["rollout", *STACK, "--back", "user_1", "--restore"],
            RolloutOptions("prod", None, 32, back="user_1", restore=True),
        ),
        (["rollout", *STACK, "--back", "user_1"], RolloutOptions("prod", None, 32, back="user_1")),
        (["destroy", *STACK, "--yes", "--quiet"], DestroyOptions("prod", None, 32, yes=True, quiet=True)),
        (
            ["machines", *STACK, "--show-secrets", "--stacks-at-once", "4"],
            MachinesOptions("prod", 4, 32, show_secrets=True),
        ),
        (["status", *STACK, "--json"], StatusOptions("prod", None, 32, json=True)),
        (
            ["up", "-s", "prod", "-y", "--refresh", "--user", "user_1", "--user", "user_2", "--user", "user_1"],
            UpOptions("prod", None, 32, only_users=("user_1", "user_2"), refresh=True, yes=True),
        ),
        (["refresh", *STACK, "-y", "--json"], RefreshOptions("prod", None, 32, yes=True, json=True)),
        (["status", *STACK, "--user", "u"], StatusOptions("prod", None, 32, only_users=("u",))),
        (["destroy", "-s", "prod", "-y"], DestroyOptions("prod", None, 32, yes=True)),
        (["render", "--output", "c.md", "--publish", "7", *STACK], RenderOptions("c.md", "prod", publish=7)),
        (["intake", "--pull-request", "pr", "--take", *STACK], IntakeOptions("pr", "prod", take=True)),
        (["check-github", "--repo", "o/r"], CheckGithubOptions("o/r")),
    ],
)
def test_each_command_parses_into_its_typed_options(argv, expected):
    assert parse(argv) == (argv[0], expected)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["rollout", *STACK, "--waves", "0"], "--waves takes counts ≥ 1"),
        (["rollout", *STACK, "--waves", "1,x"], "--waves takes counts ≥ 1"),
        (["rollout", *STACK, "--restore"], "--restore goes with --back USER"),
        (["rollout", *STACK, "--bake", "-5"], "--bake takes seconds ≥ 0"),
        (["up", *STACK, "--parallel", "0"], "argument --parallel: 0 is not 1 or more"),
        (["preview", *STACK, "--stacks-at-once", "two"], "argument --stacks-at-once: 'two' is not a whole number"),
        (["up", *STACK, "--shard", "0"], "argument --shard: 0 is not 1 or more"),
        (["up", *STACK, "--of", "3"], "--of goes with --shard"),
        (["preview", *STACK, "--format", "yaml"], "invalid choice: 'yaml'"),
        (["destroy", *STACK], "the following arguments are required: -y/--yes"),
        (["machines", *STACK, "--json"], "unrecognized arguments: --json"),
        (["destroy", *STACK, "-y", "--user", "u"], "unrecognized arguments: --user u"),
        (["preview", *STACK, "--refresh"], "unrecognized arguments: --refresh"),
        (["up", *STACK, "--show-secrets"], "unrecognized arguments: --show-secrets"),
        (["render", *STACK], "the following arguments are required: --output"),
        (["intake", *STACK], "the following arguments are required: --pull-request"),
        (["adoptable"], "the following arguments are required: -s/--stack"),
        (["launch"], "invalid choice: 'launch'"),
    ],
)
def test_a_bad_option_is_exit_2_naming_it_before_any_stack(argv, words, capsys, no_stack_runs):
    assert main.main(argv) == 2
    assert words in capsys.readouterr().err


def test_every_commands_help_is_exit_0_and_runs_nothing(capsys, no_stack_runs):
    for command in OPTIONS:
        assert main.main([command, "--help"]) == 0, command
        assert f"usage: fleet {command}" in capsys.readouterr().out


def test_the_stack_commands_get_their_options_and_return_the_status(monkeypatch):
    seen = []
    monkeypatch.setattr(main, "run_command", lambda command, root, options: seen.append((command, options)) or 3)
    assert main.main(["preview", *STACK, "--changed"]) == 3
    assert seen == [("preview", PreviewOptions("prod", None, 32, changed=True))]


def test_a_non_dev_stack_with_no_backend_is_exit_2_in_process(monkeypatch, capsys, tmp_path):
    for name in [key for key in os.environ if key.startswith(("PULUMI_", "CI"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    assert commands.run_command("preview", tmp_path, PreviewOptions("prod", None, 32)) == 2
    assert "stack prod has no backend" in capsys.readouterr().err


def test_commands_without_a_stack_return_their_status(monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "Pulumi.yaml").write_text("name: openclaw-fleet\n")
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  openclaw-fleet:shards: '3'\n")
    assert main.main(["shards", *STACK]) == 0
    assert json.loads(capsys.readouterr().out) == [1, 2, 3]
    assert main.main(["shards", "--stack", "missing"]) == 2
    assert main.main(["render", "--plan", "nothing.json", "--output", "c.md", *STACK]) == 0
    assert "❌ failed" in (tmp_path / "c.md").read_text().splitlines()[1]
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    assert main.main(["check-github", "--repo", "o/r"]) == 2
    assert main.main(["intake", "--pull-request", str(tmp_path / "none"), *STACK]) == 2
    monkeypatch.delenv("GITLAB_API_TOKEN", raising=False)
    (tmp_path / "note.md").write_text("x")
    assert main.main(["gitlab-note", "note.md"]) == 2
