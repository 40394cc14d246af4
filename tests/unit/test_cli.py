"""The `fleet` command's seams: a backend that cannot be opened is exit 2 with the CLI's own words
(a URL's password masked), not a traceback; each subcommand takes only its own flags; `--stack`
and OPENCLAW_FLEET_STACK choose the same stack and passphrase."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def fleet(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "openclaw_fleet.cli", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_backend_that_cannot_be_opened_is_exit_2_without_a_traceback_or_its_password():
    backend = {
        "PULUMI_BACKEND_URL": "postgres://fleet:hunter2-secret@127.0.0.1:1/state",
        "PULUMI_CONFIG_PASSPHRASE": "x",
    }
    result = fleet("preview", "--stack", "dev", env=backend)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "unable to open state database" in result.stderr and "postgres://fleet:***@127.0.0.1:1" in result.stderr
    assert "hunter2-secret" not in result.stdout + result.stderr


def test_each_subcommand_takes_only_its_own_flags():
    for args in (["up", "--show-secrets"], ["destroy", "--yes", "--changed"], ["machines", "--format", "json"]):
        result = fleet(*args)
        assert result.returncode == 2 and "unrecognized arguments" in result.stderr, args


def test_the_stack_flag_and_the_variable_choose_the_same_stack_and_passphrase():
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PULUMI_", "OPENCLAW_FLEET_STACK"))}

    def exported(args: list[str], extra: dict) -> dict:
        result = subprocess.run(
            [str(ROOT / "bin" / "fleet"), "env", *args], cwd=ROOT, env={**env, **extra}, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr[-2000:]
        lines = [line.removeprefix("export ").split("=", 1) for line in result.stdout.splitlines()]
        return {key: value.strip('"') for key, value in lines if key.startswith(("OPENCLAW_FLEET_STACK", "PULUMI_"))}

    by_flag = exported(["--stack", "fly-emulator"], {})
    by_variable = exported([], {"OPENCLAW_FLEET_STACK": "fly-emulator"})
    assert by_flag == by_variable
    assert by_flag["OPENCLAW_FLEET_STACK"] == "fly-emulator"
    assert by_flag["PULUMI_CONFIG_PASSPHRASE_FILE"].endswith("/.state/fly-emulator.passphrase")


def test_a_ci_that_runs_another_number_of_shard_jobs_than_the_stack_has_is_refused_before_any_stack():
    """GitLab's template once ran `parallel: 1` whatever the shards: only shard 1 was ever updated."""
    result = fleet(
        "up", "--stack", "dev", "--shard", "1", "--of", "3", env={"PULUMI_BACKEND_URL": "file:///nonexistent"}
    )
    assert result.returncode == 2
    assert "the CI runs 3 shard job(s) but openclaw-fleet:shards is 1" in result.stderr


def test_help_answers_without_any_set_up(tmp_path):
    """With an empty cache and no toolchain on PATH, set-up could not even start: help still answers."""
    env = {"PATH": "/usr/bin:/bin", "OPENCLAW_FLEET_CACHE": str(tmp_path / "empty-cache"), "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(ROOT / "bin" / "fleet"), "--help"], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0 and "bin/fleet status [--json]" in result.stdout
    assert not (tmp_path / "empty-cache").exists()
    unknown = subprocess.run(
        [str(ROOT / "bin" / "fleet"), "bogus"], env=env, capture_output=True, text=True, timeout=30
    )
    assert unknown.returncode == 2 and "unknown command 'bogus'" in unknown.stderr


def test_every_commands_help_answers_at_once_without_set_up_and_writes_nothing(tmp_path):
    """A command's --help is its parser on the system's python3: no set-up, no cache, no state,
    no passphrase file, even with another flag before it."""
    from openclaw_fleet.cli.options import OPTIONS

    env = {"PATH": "/usr/bin:/bin", "OPENCLAW_FLEET_CACHE": str(tmp_path / "empty-cache"), "HOME": str(tmp_path)}
    before = sorted((ROOT / ".state").glob("*")) if (ROOT / ".state").exists() else []
    for command in OPTIONS:
        result = subprocess.run(
            [str(ROOT / "bin" / "fleet"), command, "--stack", "help-test", "--help"],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0 and f"usage: fleet {command}" in result.stdout, (command, result.stderr)
    assert not (tmp_path / "empty-cache").exists()
    assert (sorted((ROOT / ".state").glob("*")) if (ROOT / ".state").exists() else []) == before


def test_a_bad_stack_setting_is_exit_2_naming_the_file_and_key_never_the_value(tmp_path):
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.bad.yaml").write_text("config:\n  openclaw-fleet:shards: sk-live-0123456789\n")
    result = subprocess.run(
        [sys.executable, "-m", "openclaw_fleet.cli", "preview", "--stack", "bad"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "Pulumi.bad.yaml: openclaw-fleet:shards must be a whole number" in result.stderr
    assert "sk-live" not in result.stderr and "Traceback" not in result.stderr


def test_no_pulumi_cli_is_exit_2_saying_so():
    path = ":".join(part for part in os.environ["PATH"].split(":") if not (Path(part) / "pulumi").exists())
    result = fleet("preview", "--stack", "dev", env={"PATH": path, "PULUMI_BACKEND_URL": "file:///nonexistent"})
    assert result.returncode == 2, result.stderr[-2000:]
    assert "the Pulumi CLI cannot be run" in result.stderr and "Traceback" not in result.stderr


def test_a_stack_other_than_dev_with_no_backend_is_refused_by_bin_fleet_and_the_code_alike():
    """Outside CI too: production state on one laptop is lost with it. Both entry points refuse
    before any set-up or stack, and both read CI as GitHub and GitLab set it (true, 1, yes)."""
    from openclaw_fleet.environment import state_refusal

    clean = {key: value for key, value in os.environ.items() if not key.startswith(("PULUMI_", "CI"))}
    for extra, words in [({}, "stack fly has no backend"), ({"CI": "1"}, "CI=1 and PULUMI_BACKEND_URL is not set")]:
        env = {**clean, **extra}
        for command in (["bin/fleet", "preview"], [sys.executable, "-m", "openclaw_fleet.cli", "preview"]):
            result = subprocess.run([*command, "--stack", "fly"], cwd=ROOT, env=env, capture_output=True, text=True)
            assert result.returncode == 2 and words in result.stderr, (command, result.stderr[-500:])
        assert words in state_refusal("fly", env)
    assert state_refusal("fly", {**clean, "OPENCLAW_FLEET_LOCAL_STATE": "1"}) is None
    assert state_refusal("dev", clean) is None and state_refusal("dev", {**clean, "CI": "yes"}) is not None


def test_only_key_sources_are_taken_from_the_cis_secrets():
    from openclaw_fleet.environment import KEY_SECRETS, take_key_sources

    environ = {KEY_SECRETS: json.dumps({"OPENCLAW_KEY_ADA": "sk-1", "FLY_API_TOKEN": "fo1", "NPM_TOKEN": "n"})}
    assert take_key_sources(environ) == ["OPENCLAW_KEY_ADA"]
    assert environ == {"OPENCLAW_KEY_ADA": "sk-1"}
