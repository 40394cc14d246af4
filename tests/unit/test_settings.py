"""Numeric settings keep an explicit 0 and are checked against their range, naming the key only; the
fleet command reads a stack file as the program does, and through Pulumi when it imports ESC environments."""

import json
import os
from pathlib import Path

import pytest

from openclaw_fleet.errors import SettingsError
from openclaw_fleet.settings import NUMBERS, StackSettings, number


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


def stack_files(root: Path, stack_file: str) -> None:
    (root / "Pulumi.yaml").write_text("name: openclaw-fleet\nruntime: python\n")
    (root / "Pulumi.prod.yaml").write_text(stack_file)


def fake_pulumi(directory: Path, script: str) -> dict[str, str]:
    """A `pulumi` on PATH that runs ``script`` (sh); the environment to run with it."""
    directory.mkdir()
    (directory / "pulumi").write_text(f"#!/bin/sh\n{script}\n")
    (directory / "pulumi").chmod(0o755)
    return {"PATH": f"{directory}:{os.environ['PATH']}"}


def test_the_file_is_read_as_the_program_reads_it_every_scalar_as_text(tmp_path):
    stack_files(tmp_path, "config:\n  openclaw-fleet:autostop: off\n  openclaw-fleet:shards: 4\n")
    settings, text = StackSettings.read(tmp_path, "prod")
    assert (settings.autostop, settings.shards, settings.stack_label) == ("off", 4, "openclaw-fleet/prod")
    assert text.startswith("config:")


def test_a_stack_with_esc_environments_is_read_through_pulumi(tmp_path, monkeypatch):
    """ESC values exist only once Pulumi resolves the stack's `environment:` imports."""
    stack_files(tmp_path, "environment:\n  - team/fleet-prod\nconfig:\n  openclaw-fleet:shards: 2\n")
    resolved = {"openclaw-fleet:shards": {"value": "8"}, "openclaw-fleet:target": {"value": "fly"}}
    asked = tmp_path / "asked"
    env = fake_pulumi(tmp_path / "bin", f"echo \"$*\" > {asked}; echo '{json.dumps(resolved)}'")
    monkeypatch.setenv("PATH", env["PATH"])
    settings, _ = StackSettings.read(tmp_path, "prod")
    assert (settings.shards, settings.target) == (8, "fly")
    assert asked.read_text().split() == ["config", "--json", "--stack", "prod"]


def test_when_pulumi_cannot_resolve_the_environment_the_error_says_so_naming_the_file(tmp_path, monkeypatch):
    stack_files(tmp_path, "environment:\n  - team/fleet-prod\n")
    env = fake_pulumi(tmp_path / "bin", "echo 'error: environment team/fleet-prod not found' >&2; exit 255")
    monkeypatch.setenv("PATH", env["PATH"])
    with pytest.raises(SettingsError) as failed:
        StackSettings.read(tmp_path, "prod")
    assert str(failed.value) == (
        f"{tmp_path / 'Pulumi.prod.yaml'}: its environment is resolved by `pulumi config`, which failed: "
        "error: environment team/fleet-prod not found"
    )


def test_the_settings_reference_in_the_docs_is_generated_from_the_model():
    from openclaw_fleet.settings import docs_table

    operating = (Path(__file__).resolve().parents[2] / "docs" / "operating.md").read_text()
    assert docs_table() in operating, "regenerate the table: python -m openclaw_fleet.settings"
    assert "| `commandTimeoutSeconds` | `300` (10–3600) |" in docs_table()  # the range, from the model


def test_the_plans_digest_of_the_settings_is_the_same_in_every_process():
    """A source limited to users once entered the digest as a set, in each process's own order:
    `fleet up --changed` never skipped such a shard."""
    import subprocess
    import sys

    script = (
        "from openclaw_fleet.settings import StackSettings\n"
        "raw = {'secretSources': {'a': {'env': 'OPENCLAW_KEY_A', 'users': ['u_d', 'u_a', 'u_c', 'u_b']}}}\n"
        "print(StackSettings.parse(raw, 'prod', 'p', 'x').model_dump_json())"
    )
    dumps = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
        ).stdout
        for seed in range(4)
    }
    assert len(dumps) == 1 and '"users":["u_a","u_b","u_c","u_d"]' in dumps.pop()
