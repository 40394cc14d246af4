"""`pipx install .` gives a `fleet` command that drives a project directory with the Pulumi CLI on
PATH: into a temporary home, then `fleet preview` of a Fly stack on the emulator from a project
with no virtualenv of its own (fleet links its own); a Pulumi CLI older than fleet needs is refused
before any stack runs, saying which version it needs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_fleet.cli.stacks import MINIMUM_PULUMI
from tests.integration.fleet import ROOT, Fleet

pytestmark = pytest.mark.integration

PIPX = "pipx==1.7.1"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, str]:
    """The environment of a home where `pipx install .` put `fleet` on PATH (ROOT's own pins)."""
    home = tmp_path_factory.mktemp("pipx-home")
    tools = home / "tools"
    subprocess.run([sys.executable, "-m", "venv", str(tools)], check=True, timeout=300)
    subprocess.run([tools / "bin" / "pip", "install", "--quiet", PIPX], check=True, timeout=600)
    env = {
        **os.environ,
        "HOME": str(home),
        "PIPX_HOME": str(home / "pipx"),
        "PIPX_BIN_DIR": str(home / "bin"),
        "PIP_CONSTRAINT": str(ROOT / "requirements.txt"),
    }
    source = home / "source"
    shutil.copytree(
        ROOT, source, ignore=shutil.ignore_patterns(".venv", ".state", "__pycache__", "*.egg-info", "build")
    )
    result = subprocess.run(
        [tools / "bin" / "pipx", "install", str(source)], env=env, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    env["PATH"] = f"{home / 'bin'}{os.pathsep}{os.environ['PATH']}"
    return env


def test_fleet_from_pipx_previews_a_project_with_the_pulumi_on_path(installed, tmp_path, emulator):
    fleet = Fleet.for_fly(tmp_path, emulator)
    (fleet.dir / ".venv").unlink()  # the project has none: fleet brings its own
    fleet.write_roster({"users": [{"id": "user_2pipx0user001", "name": "Pipx"}]})
    env = {**fleet.env, "PATH": installed["PATH"], "HOME": installed["HOME"]}
    env.pop("PULUMI_RUNTIME_VIRTUALENV", None)
    assert shutil.which("fleet", path=env["PATH"]).startswith(installed["PIPX_BIN_DIR"])
    result = subprocess.run(
        ["fleet", "preview", "--stack", fleet.stack, "--quiet"],
        cwd=fleet.dir, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "preview: 1 users change" in result.stdout
    pipx_venv = Path(installed["PIPX_HOME"]) / "venvs" / "openclaw-fleet"
    assert (fleet.dir / ".venv").resolve() == pipx_venv.resolve()


def test_a_pulumi_older_than_fleet_needs_is_refused_saying_which(installed, tmp_path):
    old = tmp_path / "old-pulumi"
    old.mkdir()
    (old / "pulumi").write_text("#!/bin/sh\necho v3.100.0\n")
    (old / "pulumi").chmod(0o755)
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", ".state", "__pycache__"))
    env = {**installed, "PATH": f"{old}{os.pathsep}{installed['PATH']}", "PULUMI_BACKEND_URL": f"file://{tmp_path}"}
    result = subprocess.run(
        ["fleet", "preview", "--stack", "dev"], cwd=project, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"the Pulumi CLI on PATH is 3.100.0; fleet needs {MINIMUM_PULUMI} or later" in result.stderr
