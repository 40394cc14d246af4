"""Stacks made by main before the orchestration reshape (typed outputs, compat/, the SDK
workarounds in one module) preview as ``same`` with this code, outputs and departed users
included, and update with no change, on both targets."""

import json
import secrets

import pytest

from openclaw_fleet.providers.docker.client import docker_client
from tests.integration.fleet import ROOT, Fleet, program_of
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

PREVIOUS_MAIN = "d9c93f934e9f10861f7ebfa7253d29c03aa10936"  # main before the reshape
STAYS, LEAVES = "user_2previous0stay", "user_2previous0left"


@pytest.fixture(scope="module")
def previous_main(tmp_path_factory):
    """The program of PREVIOUS_MAIN, unpacked from git, with today's ``image/``."""
    paths = ("Pulumi.yaml", "__main__.py", "components", "openclaw_fleet")
    return program_of(PREVIOUS_MAIN, tmp_path_factory.mktemp("previous"), *paths)


def roster(*ids: str) -> dict:
    users = [{"id": uid, "name": uid[-4:], "region": "sjc", "deprovision": "retain"} for uid in ids]
    return {"defaults": {"model": "anthropic/claude-sonnet-4-5"}, "users": users}


@pytest.mark.parametrize("target", ["docker", "fly"])
def test_a_stack_of_the_previous_main_previews_as_same_and_updates_nothing(tmp_path, previous_main, target):
    emulator = None
    if target == "fly":
        emulator = Emulator(tokens=("fly-prev-" + secrets.token_hex(16),), timing=Timing(start_s=0.2)).start()
        fleet = Fleet.for_fly(tmp_path, emulator, source=previous_main)
    else:
        fleet = Fleet.for_docker(tmp_path, source=previous_main)
    try:
        fleet.write_roster(roster(STAYS, LEAVES))
        fleet.up()
        fleet.write_roster(roster(STAYS))  # LEAVES departs with a volume retained: the `departed` output
        fleet.up()
        outputs_before = fleet.run("stack", "output", "--json")

        fleet.use_program(ROOT)
        assert fleet.preview_changes() == []
        fleet.up()
        assert fleet.run("stack", "output", "--json") == outputs_before
        assert fleet.preview_changes() == []

        retained = json.loads(outputs_before)["departed"][LEAVES]["volume_id"]
        fleet.write_roster(roster(STAYS, LEAVES))  # back, to the volume the previous main recorded as retained
        fleet.up()
        assert json.loads(fleet.run("stack", "output", "roster_state", "--json"))[LEAVES]["volume_id"] == retained
    finally:
        fleet.remove_stack()
        if emulator:
            emulator.stop()
        else:  # the retained volumes stay on Docker after a destroy, as `retain` says
            with docker_client() as docker:
                for volume in docker.list_labelled("volumes", f"openclaw-fleet.stack={fleet.label}"):
                    docker.remove_volume(volume["Name"])
