"""Stacks made before the code moved to ``openclaw_fleet/`` keep working with the new code.

The SDK pickles every dynamic provider by its module path into state, and the gateway components
changed type; a stack created by the last commit of the former layout is refreshed, updated (with
no change on Docker; on Fly with only this version's deliberate in-place changes, its addresses
taken over by their apps) and destroyed by the current code, on both targets.
"""

import json
import secrets

import pytest

from openclaw_fleet.providers.docker.client import docker_client
from tests.integration.fleet import ROOT, Fleet, program_of
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

FORMER_MAIN = "c78101b4e3afbc75139f247aebc8caac1a8b1e44"  # the last commit with components/ as the package
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
USERS = ("user_2formerada001", "user_2formergrace2")


@pytest.fixture(scope="module")
def former_checkout(tmp_path_factory):
    """The program of FORMER_MAIN, unpacked from git, with today's ``image/``."""
    return program_of(FORMER_MAIN, tmp_path_factory.mktemp("former"), "Pulumi.yaml", "__main__.py", "components")


def roster(users) -> dict:
    return {
        "defaults": {"model": "anthropic/claude-sonnet-4-5"},
        "users": [{"id": uid, "name": uid[-5:], "region": "sjc"} for uid in users],
    }


@pytest.mark.parametrize("refresh_first", [True, False], ids=["refreshed", "not-refreshed"])
def test_fly_stack_of_the_former_layout_refreshes_updates_with_no_change_and_destroys(
    tmp_path, former_checkout, refresh_first
):
    emulator = Emulator(tokens=("fly-former-" + secrets.token_hex(16),), timing=Timing(start_s=0.3)).start()
    fleet = Fleet.for_fly(tmp_path, emulator, source=former_checkout)
    try:
        fleet.write_roster(roster(USERS))
        fleet.up()
        made = {name: list(app["machines"]) for name, app in emulator.state.apps.items()}
        assert len(made) == len(USERS)

        fleet.use_program(ROOT)
        if refresh_first:
            fleet.run("refresh", "--yes")
        # Only what this version changes in a Fly gateway on purpose, in place: the machine config
        # (force_https on port 80, the fly_process_group metadata), the volumes' snapshot
        # retention, and the image, now built for linux/amd64; the machine's update waits for it
        # to be ready, so the wait of then (MachineReady) leaves the stack, deleting nothing.
        # The two addresses, resources of their own then, leave the stack, and the app takes them
        # over (found by the refresh, or else by an update of the app): neither released nor
        # allocated again.
        steps = json.loads(fleet.run("preview", "--json")).get("steps") or []
        changes = [(step["op"], step["urn"].split("::")[2].rsplit(":", 1)[-1]) for step in steps]
        changes = [change for change in changes if change[0] != "same"]
        per_user = [("update", "Machine"), ("delete", "MachineReady"), ("update", "Volume")]
        per_user += [("delete", "IPAssignment")] * 2 + ([] if refresh_first else [("update", "App")])
        assert sorted(changes) == sorted([("update", "Image")] + per_user * len(USERS))
        addresses = {name: app["ips"] for name, app in emulator.state.apps.items()}
        mark = len(emulator.calls)
        fleet.up()
        writes = [(c["method"], c["path"]) for c in emulator.calls[mark:] if c["method"] in MUTATING]
        assert writes and all(
            path.rsplit("/", 2)[-2] == "machines" or "/lease" in path or (method == "PUT" and "/volumes/" in path)
            for method, path in writes
        ), writes
        assert {name: list(app["machines"]) for name, app in emulator.state.apps.items()} == made
        assert {name: app["ips"] for name, app in emulator.state.apps.items()} == addresses
        assert all(len(ips) == 2 for ips in addresses.values())
        assert fleet.preview_changes() == []
        assert set(fleet.users()) == set(USERS) and all(out["instance_id"] for out in fleet.users().values())

        fleet.run("destroy", "--yes")
        assert emulator.state.apps == {}
    finally:
        fleet.remove_stack()
        emulator.stop()


def test_docker_stack_of_the_former_layout_refreshes_updates_with_no_change_and_destroys(tmp_path, former_checkout):
    fleet = Fleet.for_docker(tmp_path, source=former_checkout)
    try:
        fleet.write_roster(roster(USERS[:1]))
        fleet.up()
        made = fleet.docker_objects()
        assert len(made["containers"]) == 1

        fleet.use_program(ROOT)
        fleet.run("refresh", "--yes")
        assert fleet.preview_changes() == []
        fleet.up()
        assert fleet.docker_objects() == made  # same ids, same run state

        fleet.run("destroy", "--yes")
        assert fleet.docker_objects() == {"containers": {}, "volumes": {}, "networks": {}}
    finally:
        fleet.remove_stack()
        with docker_client() as docker:
            leftovers = docker.list_labelled("containers", f"openclaw-fleet.stack={fleet.label}")
        assert leftovers == []
