"""`fleet status` asks Fly now, not the state: a machine stopped behind the fleet's back differs
from the plan (exit 1, in the JSON document and in words); the others are as planned."""

from __future__ import annotations

import json
import time

import pytest

from openclaw_fleet.providers.fly.client import FlyClient
from tests.integration.fleet import Fleet

pytestmark = pytest.mark.integration

USERS = ["user_2status0ada01", "user_2status0grace"]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, emulator):
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("status"), emulator)
    fleet.write_roster({"users": [{"id": uid, "name": uid[-5:]} for uid in USERS]})
    result = fleet.fleet("up", "--quiet")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    yield fleet
    fleet.fleet("destroy", "--yes", "--quiet")


def test_all_as_planned_after_an_up(fleet):
    result = fleet.fleet("status", "--json")
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(result.stdout)
    assert document["schema"] == 1 and document["differing"] == []
    assert sorted(user["user_id"] for user in document["users"]) == USERS
    assert all(user["live"]["state"] == "started" for user in document["users"])


def test_a_machine_stopped_behind_the_fleets_back_differs(fleet, emulator):
    row = next(row for row in json.loads(fleet.fleet("machines").stdout) if row["user_id"] == USERS[0])
    with FlyClient(emulator.url, fleet.env["FLY_API_TOKEN"]) as fly:
        fly.stop_machine(row["app_name"], row["id"])
        deadline = time.monotonic() + 60
        while fly.get_machine(row["app_name"], row["id"])["state"] != "stopped" and time.monotonic() < deadline:
            time.sleep(0.5)
    result = fleet.fleet("status", "--json")
    assert result.returncode == 1
    document = json.loads(result.stdout)
    assert document["differing"] == [USERS[0]]
    (ada,) = [user for user in document["users"] if user["user_id"] == USERS[0]]
    assert ada["differs"] == ["state stopped, the roster says running"]
    words = fleet.fleet("status")
    assert f"{USERS[0]} {row['app_name']}: stopped (roster: running): state stopped" in words.stdout
    assert "status: 2 users, 1 differ from the plan" in words.stdout


def test_up_json_says_what_ran_per_stack_and_user(fleet):
    fleet.write_roster(
        {"users": [{"id": USERS[0], "name": "ada", "model": "openai/gpt-5.1"}, {"id": USERS[1], "name": "grace"}]}
    )
    result = fleet.fleet("up", "--json", "--quiet")
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads(result.stdout)  # stdout holds the document alone
    assert (document["schema"], document["command"], document["status"]) == (1, "up", 0)
    assert [stack["name"] for stack in document["stacks"]] == [fleet.stack]
    assert list(document["applied"]["users"]) == [USERS[0]]
    assert "update" in document["applied"]["users"][USERS[0]]["changes"]
    assert document["applied"]["failed"] == []
