"""Lifecycle, drift and safety on the Docker target through the real engine and Docker."""

import json
import subprocess

import pytest

from openclaw_fleet.providers.docker.client import docker_client
from tests.integration.fleet import Fleet, PulumiFailed

pytestmark = pytest.mark.integration

USERS = ("user_2lcyada000001", "user_2lcygrace0002", "user_2lcyalan00003")


def roster(users=USERS, **fields) -> dict:
    return {"users": [{"id": uid, "name": uid[-5:], **fields.get(uid, {})} for uid in users]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    fleet = Fleet.for_docker(tmp_path_factory.mktemp("lifecycle"), publishHost="127.0.0.1")
    fleet.write_roster(roster())
    fleet.up()
    yield fleet
    fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"] = "1"
    fleet.remove_stack()


def container(fleet: Fleet, user_id: str) -> str:
    return f"{fleet.prefix}-u-{user_id[-12:].lower()}"


def test_control_plane_rows_have_one_row_per_user(fleet):
    rows = json.loads(fleet.run("stack", "output", "machines", "--json"))
    assert [row["user_id"] for row in rows] == list(USERS)
    for row in rows:
        assert set(row) == {
            "id",
            "user_id",
            "app_name",
            "region",
            "volume_id",
            "status",
            "gateway_url",
            "gateway_token",
        }
        assert row["gateway_token"] == "[secret]" and row["status"] == "running"
        assert row["app_name"] == container(fleet, row["user_id"])


def test_token_rotation_changes_only_that_user(fleet):
    before_tokens, before = fleet.tokens(), fleet.users()
    fleet.write_roster(roster(**{USERS[1]: {"tokenRotation": 1}}))
    fleet.up()
    after_tokens, after = fleet.tokens(), fleet.users()
    # Tokens are compared outside the asserts, so that a failure never prints one.
    changed = {u: after_tokens[u] != before_tokens[u] for u in USERS}
    assert changed == {USERS[0]: False, USERS[1]: True, USERS[2]: False}
    assert after[USERS[0]] == before[USERS[0]] and after[USERS[2]] == before[USERS[2]]
    assert after[USERS[1]]["volume_id"] == before[USERS[1]]["volume_id"]


def test_a_new_image_replaces_exactly_the_released_containers(fleet):
    fleet.write_roster(roster(**{USERS[1]: {"tokenRotation": 1}}))
    before, objects = fleet.users(), fleet.docker_objects()
    entrypoint = fleet.dir / "image" / "entrypoint.sh"
    entrypoint.write_text(entrypoint.read_text() + "# rebuild\n")
    fleet.up(release=USERS)
    after, now = fleet.users(), fleet.docker_objects()
    assert all(after[u]["instance_id"] != before[u]["instance_id"] for u in USERS)
    assert all(after[u]["volume_id"] == before[u]["volume_id"] and after[u]["state"] == "running" for u in USERS)
    assert now["networks"] == objects["networks"] and now["volumes"] == objects["volumes"]
    image = fleet.run("stack", "output", "image").strip()
    with docker_client() as docker:
        assert {docker.inspect_container(out["instance_id"])["Config"]["Image"] for out in after.values()} == {image}


def test_drift_is_seen_by_refresh_and_repaired_by_up(fleet):
    fleet.write_roster(roster(**{USERS[1]: {"tokenRotation": 1}}))
    deleted, stopped, reconfigured = (container(fleet, u) for u in USERS)
    with docker_client() as docker:
        docker.remove_container(deleted)
        docker.stop_container(stopped, timeout_s=5)
    subprocess.run(
        ["docker", "update", "--memory", "1g", "--memory-swap", "1g", reconfigured], check=True, capture_output=True
    )
    refresh = fleet.run("refresh", "--yes")
    assert "deleted" in refresh and "updated" in refresh
    fleet.up()
    with docker_client() as docker:
        for name in (deleted, stopped, reconfigured):
            found = docker.inspect_container(name)
            assert found["State"]["Running"], name
            assert found["HostConfig"]["Memory"] == 2048 * 2**20, name
    assert {out["state"] for out in fleet.users().values()} == {"running"}


def test_pairing_approval_runs_in_the_real_gateway_and_reports_its_failure(fleet):
    # No Telegram here, so no code can be approved; the real gateway's CLI must still be reached,
    # and its refusal must fail the run naming the user and the code.
    fleet.write_roster(roster(**{USERS[1]: {"tokenRotation": 1}, USERS[2]: {"telegramPairings": ["NOSUCH1"]}}))
    with pytest.raises(PulumiFailed) as caught:
        fleet.up()
    message = str(caught.value)
    assert "openclaw pairing approve telegram NOSUCH1" in message and USERS[2] in message and "exited" in message
    fleet.write_roster(roster(**{USERS[1]: {"tokenRotation": 1}}))
    fleet.up()


def test_mass_deletion_is_refused_in_preview_and_up_unless_overridden(fleet):
    before = fleet.docker_objects()
    fleet.write_roster(roster(()))
    for command in (("preview",), ("up", "--yes", "--skip-preview")):
        with pytest.raises(PulumiFailed) as caught:
            fleet.run(*command)
        assert "would delete 3 of 3 users" in str(caught.value) and USERS[0] in str(caught.value)
    assert fleet.docker_objects() == before
    fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"] = "1"
    try:
        fleet.up()
    finally:
        del fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"]
    assert fleet.docker_objects() == {"containers": {}, "volumes": {}, "networks": {}}
