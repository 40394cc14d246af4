"""A team that keeps the Fly token in the stack (the config secret ``openclaw-fleet:flyApiToken``,
as the README offers) runs every command with it and nothing in the environment: ``up`` (the
providers), ``status`` and ``adoptable`` (``cli/targets.py``) read it in the providers' order."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.fleet import Fleet

pytestmark = pytest.mark.integration

USER = "user_2token0config"


def test_status_and_adoptable_read_the_token_from_the_stack(tmp_path, emulator):
    fleet = Fleet.for_fly(tmp_path, emulator)
    token = fleet.env.pop("FLY_API_TOKEN")
    fleet.set_secret("flyApiToken", token)
    fleet.write_roster({"users": [{"id": USER, "name": "Ada"}]})
    try:
        up = fleet.fleet("up")
        assert up.returncode == 0, up.stderr[-3000:]
        status = fleet.fleet("status", "--json")
        assert status.returncode == 0, status.stderr[-2000:]
        document = json.loads(status.stdout)
        assert [user["user_id"] for user in document["users"]] == [USER] and document["differing"] == []
        config = fleet.run("config", "--json", record=False)  # what bin/fleet adoptable pipes in
        adoptable = subprocess.run(
            [sys.executable, "-m", "openclaw_fleet.cli", "adoptable", "--stack", fleet.stack],
            cwd=fleet.dir,
            env=fleet.env,
            input=config,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert adoptable.returncode == 0, adoptable.stderr[-2000:]
        assert [row["user_id"] for row in json.loads(adoptable.stdout)] == [USER]
        for output in (up.stdout + up.stderr, status.stdout + status.stderr, adoptable.stdout + adoptable.stderr):
            assert token not in output
    finally:
        fleet.fleet("destroy", "--yes")
