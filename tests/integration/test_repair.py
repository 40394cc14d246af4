"""Drift repaired in one command, on both targets, in a 3-shard stack: a gateway stopped and one
deleted behind the fleet's back make `fleet status` exit 1 naming `fleet up --refresh`; that
command brings both back; `status` then exits 0. A refresh that would drop most users' data (on
Fly, what a wrong organisation or token looks like) is refused like a mass deletion."""

from __future__ import annotations

import json
import time

import pytest

from openclaw_fleet.providers.docker.client import docker_client
from openclaw_fleet.providers.fly.client import FlyClient
from tests.integration.fleet import Fleet

pytestmark = pytest.mark.integration

USERS = ["user_2repair0ada01", "user_2repair0bob02", "user_2repair0cy003", "user_2repair0di004"]


@pytest.fixture(scope="module", params=["docker", "fly"])
def fleet(request, tmp_path_factory, emulator):
    workdir = tmp_path_factory.mktemp(f"repair-{request.param}")
    if request.param == "fly":
        fleet = Fleet.for_fly(workdir, emulator, shards="3")
    else:
        fleet = Fleet.for_docker(workdir, shards="3")
    fleet.target = request.param
    fleet.write_roster({"users": [{"id": uid, "name": uid[-5:]} for uid in USERS]})
    result = fleet.fleet("up", "--quiet")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    yield fleet
    fleet.fleet("destroy", "--yes", "--quiet")


def machines(fleet: Fleet) -> dict[str, dict]:
    return {row["user_id"]: row for row in json.loads(fleet.fleet("machines").stdout)}


def stop_and_delete(fleet: Fleet, emulator, stopped: dict, deleted: dict) -> None:
    """Stop one gateway and delete another as someone would outside the fleet."""
    if fleet.target == "docker":
        with docker_client() as docker:
            docker.stop_container(stopped["id"])
            docker.remove_container(deleted["id"])
        return
    with FlyClient(emulator.url, fleet.env["FLY_API_TOKEN"]) as fly:
        fly.stop_machine(stopped["app_name"], stopped["id"])
        fly.destroy_machine(deleted["app_name"], deleted["id"])
        deadline = time.monotonic() + 60
        while fly.get_machine(stopped["app_name"], stopped["id"])["state"] != "stopped":
            assert time.monotonic() < deadline, "the machine did not stop"
            time.sleep(0.5)


def test_status_names_the_repair_and_up_refresh_repairs_a_stopped_and_a_deleted_gateway(fleet, emulator):
    rows = machines(fleet)
    stop_and_delete(fleet, emulator, rows[USERS[0]], rows[USERS[1]])
    found = fleet.fleet("status", "--json")
    assert found.returncode == 1, found.stderr[-2000:]
    document = json.loads(found.stdout)
    assert document["differing"] == USERS[:2]
    assert document["repairs"] == [f"bin/fleet up --refresh -s {fleet.stack}"]
    assert "fleet up --refresh" in fleet.fleet("status").stdout

    repaired = fleet.fleet("up", "--refresh", "--quiet")
    assert repaired.returncode == 0, repaired.stdout[-3000:] + repaired.stderr[-3000:]
    assert "refresh: 2 users change" in repaired.stdout  # what the refresh found, before the up
    after = fleet.fleet("status", "--json")
    differing = {user["user_id"]: user["differs"] for user in json.loads(after.stdout)["users"] if user["differs"]}
    assert after.returncode == 0 and differing == {}, (differing, after.stderr[-2000:])
    assert machines(fleet)[USERS[2]]["id"] == rows[USERS[2]]["id"]  # the others untouched


def test_a_refresh_that_would_drop_most_users_data_is_refused_and_changes_nothing(fleet, emulator):
    """Fly: three apps gone, as a wrong organisation or token shows them; Docker: three volumes."""
    rows = machines(fleet)
    if fleet.target == "fly":
        with FlyClient(emulator.url, fleet.env["FLY_API_TOKEN"]) as fly:
            for uid in USERS[:3]:
                fly.delete_app(rows[uid]["app_name"])
    else:
        with docker_client() as docker:
            for uid in USERS[:3]:
                docker.remove_container(rows[uid]["id"])
                docker.remove_volume(rows[uid]["volume_id"])
    shards = fleet.state_file().parent.glob(f"{fleet.stack}-shard-*")
    checkpoints = sorted(path for path in shards if path.name.endswith((".json", ".json.gz")))
    before = {path.name: path.read_bytes() for path in checkpoints}
    refused = fleet.fleet("refresh", "--quiet")
    assert refused.returncode == 3, refused.stdout[-2000:] + refused.stderr[-2000:]
    kind = "Fly app" if fleet.target == "fly" else "Docker volume"
    assert "3 of 4 users" in refused.stderr and f"{kind} gone" in refused.stderr
    assert len(before) == 3 and {path.name: path.read_bytes() for path in checkpoints} == before  # untouched
    assert set(machines(fleet)) == set(USERS)
