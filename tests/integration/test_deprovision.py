"""Deprovision policies on both targets: retain, snapshot, and restore: latest."""

import json
import secrets
from datetime import date

import pytest

from openclaw_fleet.providers.docker.client import docker_client
from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

KEEP, SNAP, GONE = "user_2depkeep00001", "user_2depsnap00002", "user_2depgone00003"
POLICIES = {KEEP: "retain", SNAP: "snapshot", GONE: "delete"}


def roster(users, restore=()) -> dict:
    return {
        "users": [
            {
                "id": uid,
                "name": uid[-5:],
                "region": "sjc",
                "deprovision": POLICIES[uid],
                **({"restore": "latest"} if uid in restore else {}),
            }
            for uid in users
        ]
    }


def name(fleet: Fleet, user_id: str) -> str:
    return f"{fleet.prefix}-u-{user_id[-12:].lower()}"


@pytest.fixture(scope="module")
def docker_fleet(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("depdocker")
    fleet = Fleet.for_docker(workdir, publishHost="127.0.0.1", snapshotDir=str(workdir / "snapshots"))
    fleet.snapshots = workdir / "snapshots"
    yield fleet
    fleet.remove_stack()
    with docker_client() as docker:
        docker.remove_volume(f"{name(fleet, KEEP)}-data")


def test_docker_retain_keeps_the_volume_and_snapshot_restores_it(docker_fleet):
    fleet = docker_fleet
    fleet.write_roster(roster((KEEP, SNAP, GONE)))
    fleet.up()
    with docker_client() as docker:
        for uid in POLICIES:
            assert docker.exec_run(name(fleet, uid), ["sh", "-c", f"echo {uid} > /home/node/.openclaw/marker"])[0] == 0
    fleet.write_roster(roster(()))
    fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"] = "1"
    fleet.up()
    del fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"]
    departed = json.loads(fleet.run("stack", "output", "departed", "--json"))
    today = date.today().isoformat()  # the day they left, for the snapshot-retention warning
    assert departed == {
        KEEP: {
            "policy": "retain",
            "name": name(fleet, KEEP),
            "volume_id": f"{name(fleet, KEEP)}-data",
            "left_on": today,
        },
        SNAP: {
            "policy": "snapshot",
            "name": name(fleet, SNAP),
            "volume_id": f"{name(fleet, SNAP)}-data",
            "left_on": today,
        },
    }
    with docker_client() as docker:
        assert docker.inspect_volume(f"{name(fleet, KEEP)}-data") is not None  # retained
        assert docker.inspect_volume(f"{name(fleet, SNAP)}-data") is None  # snapshotted, then deleted
        assert docker.inspect_volume(f"{name(fleet, GONE)}-data") is None  # deleted
    assert len(list(fleet.snapshots.glob(f"{name(fleet, SNAP)}-data-*.tar.gz"))) == 1

    fleet.write_roster(roster((KEEP, SNAP), restore=(SNAP,)))
    fleet.up()
    with docker_client() as docker:
        for uid in (KEEP, SNAP):
            assert docker.exec_run(name(fleet, uid), ["cat", "/home/node/.openclaw/marker"]) == (0, f"{uid}\n")
    assert json.loads(fleet.run("stack", "output", "departed", "--json")) == {}


@pytest.fixture(scope="module")
def fly_fleet(tmp_path_factory):
    emulator = Emulator(tokens=("fly-" + secrets.token_hex(16),), timing=Timing(start_s=0.3)).start()
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("depfly"), emulator)
    yield fleet, emulator
    fleet.remove_stack()
    emulator.stop()


def test_fly_retain_keeps_app_and_volume_snapshot_restores_from_the_latest_snapshot(fly_fleet):
    fleet, emulator = fly_fleet
    fleet.write_roster(roster((KEEP, SNAP, GONE)))
    fleet.up()
    before = fleet.users()
    fleet.write_roster(roster(()))
    fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"] = "1"
    fleet.up()
    del fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"]
    apps = emulator.state.apps
    keep, snap = apps[name(fleet, KEEP)], apps[name(fleet, SNAP)]
    assert name(fleet, GONE) not in apps
    assert list(keep["volumes"]) == [before[KEEP]["volume_id"]]
    assert all(m.state == "destroyed" for m in keep["machines"].values())
    assert snap["volumes"] == {} and len(snap["snapshots"][before[SNAP]["volume_id"]]) == 1

    fleet.write_roster(roster((KEEP, SNAP), restore=(SNAP,)))
    fleet.up()
    after = fleet.users()
    assert after[KEEP]["volume_id"] == before[KEEP]["volume_id"]  # the kept volume, taken back
    (new_volume,) = snap["volumes"]
    assert snap["restored"][new_volume] == snap["snapshots"][before[SNAP]["volume_id"]][0]["id"]
    assert {out["state"] for out in after.values()} == {"started"}
