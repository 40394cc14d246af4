"""A Fly machine that does not come up is recorded, and the next ``up`` waits for that machine.

``fly:Machine`` waits in its own create until the machine is started with passing checks. Here
one user's checks fail (the emulator's machines run behind ``ChecksOnlyRuntime``, whose checks
fail for that user's machine): the run fails naming the user, the other user converges, and the
engine records the machine with Pulumi's "initialization failed" (``providers/server.py``). Once
the checks pass, the next ``up`` updates that same machine, launches none, and the one after is
a no-op.
"""

import json
import secrets

import pytest

from openclaw_fleet.roster.naming import instance_name
from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Timing
from tools.fly_emulator.runtime import ChecksOnlyRuntime

pytestmark = pytest.mark.integration

ADA, GRACE = "user_2waitada00001", "user_2waitgrace002"


@pytest.fixture
def runtime():
    return ChecksOnlyRuntime()


@pytest.fixture
def fleet(tmp_path_factory, runtime):
    emulator = Emulator(tokens=("fly-" + secrets.token_hex(16),), timing=Timing(start_s=0.5), runtime=runtime).start()
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("wait"), emulator, healthTimeoutSeconds="5")
    fleet.emulator = emulator
    fleet.write_roster({"users": [{"id": uid, "name": uid[-5:]} for uid in (ADA, GRACE)]})
    yield fleet
    runtime.failing.clear()
    fleet.remove_stack()
    emulator.stop()


def machines_of(fleet: Fleet, user_id: str) -> list:
    """The emulator's Machine records of ``user_id`` not destroyed (found by the metadata the program sets)."""
    return [
        machine
        for app in fleet.emulator.state.apps.values()
        for machine in app["machines"].values()
        if machine.config.get("metadata", {}).get("openclaw-fleet-user") == user_id and machine.state != "destroyed"
    ]


def machine_entries(fleet: Fleet) -> dict[str, dict]:
    """The checkpoint's ``fly:Machine`` entries by their name (the user's instance name)."""
    resources = json.loads(fleet.state_text())["checkpoint"]["latest"]["resources"]
    return {r["urn"].rsplit("::", 1)[1]: r for r in resources if r["type"].endswith("fly:Machine")}


def test_a_machine_that_does_not_come_up_is_recorded_and_the_next_up_waits_for_it(fleet, runtime):
    grace_app = instance_name(fleet.prefix, GRACE)
    runtime.failing.add(grace_app)
    failed = fleet.fleet("up")
    said = failed.stdout + failed.stderr
    assert failed.returncode != 0, said[-3000:]
    assert "did not become started with passing checks within 5s" in said, said[-3000:]
    assert GRACE in said, said[-3000:]
    launched = machines_of(fleet, GRACE)
    assert len(launched) == 1, launched
    entry = machine_entries(fleet)[grace_app]
    assert entry["id"] == launched[0].id
    assert entry.get("initErrors"), entry
    assert [machine.state for machine in machines_of(fleet, ADA)] == ["started"]

    runtime.failing.clear()
    mark = len(fleet.emulator.calls)
    again = fleet.fleet("up")
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    launches = [
        call
        for call in fleet.emulator.calls[mark:]
        if call["method"] == "POST" and call["path"] == f"/v1/apps/{grace_app}/machines"
    ]
    assert launches == []
    assert [machine.id for machine in machines_of(fleet, GRACE)] == [launched[0].id]
    entry = machine_entries(fleet)[grace_app]
    assert not entry.get("initErrors") and entry["outputs"]["status"] == "started"
    assert fleet.users()[GRACE]["state"] == "started"
    assert fleet.preview_changes() == []
