"""A Fly machine that does not come up is recorded, and the next ``up`` waits for that machine.

``fly:Machine`` waits in its own create until the machine is started with passing checks. Here
one user's checks fail (the emulator's machines run behind a workload whose HTTP checks fail for
that user's machine): the run fails naming the user, the other user converges, and the engine
records the machine with Pulumi's "initialization failed" (``providers/server.py``). Once the
checks pass, the next ``up`` updates that same machine, launches none, and the one after is a
no-op.
"""

import json
import secrets

import pytest

from openclaw_fleet.roster.naming import instance_name
from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

ADA, GRACE = "user_2waitada00001", "user_2waitgrace002"


class Workload:
    """What runs behind the emulator's machines: nothing, with HTTP checks that fail on the
    machines named in ``failing`` (the emulator's ``runtime`` interface, as runtime.DockerRuntime)."""

    def __init__(self):
        self.failing: set[str] = set()

    def start(self, machine, secrets: dict[str, str]) -> None:
        pass

    def stop(self, machine) -> None:
        pass

    def destroy(self, machine) -> None:
        pass

    def remove_volume(self, volume_id: str) -> None:
        pass

    def exec(self, machine, command: list[str]) -> tuple[int, str]:
        return 0, ""

    def check(self, machine, check: dict) -> str:
        return "critical" if machine.name in self.failing else "passing"


@pytest.fixture
def workload():
    return Workload()


@pytest.fixture
def fleet(tmp_path_factory, workload):
    emulator = Emulator(tokens=("fly-" + secrets.token_hex(16),), timing=Timing(start_s=0.5), runtime=workload).start()
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("wait"), emulator, healthTimeoutSeconds="5")
    fleet.emulator = emulator
    fleet.write_roster({"users": [{"id": uid, "name": uid[-5:]} for uid in (ADA, GRACE)]})
    yield fleet
    workload.failing.clear()
    fleet.run("destroy", "--yes", check=False)
    fleet.run("stack", "rm", "--yes", "--force", check=False)
    emulator.stop()


def machines_of(fleet: Fleet, user_id: str) -> list[dict]:
    """The emulator's machines of ``user_id`` not destroyed (by the metadata the program sets)."""
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


def test_a_machine_that_does_not_come_up_is_recorded_and_the_next_up_waits_for_it(fleet, workload):
    grace_app = instance_name(fleet.prefix, GRACE)
    workload.failing.add(grace_app)
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

    workload.failing.clear()
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
