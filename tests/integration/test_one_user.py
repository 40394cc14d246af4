"""`--user ID` on a 3-shard fleet (Fly emulator): `preview`, `up`, `refresh`, `status` and `rollout`
touch only the named users' resources, in whichever shard holds them. The engine reports every other user's
resources as `same` only (it carries them over into the checkpoint) and the Fly API receives no
call for their apps; their records are carried over, so a later full run still sees their change."""

from __future__ import annotations

import json
import re

import pytest

from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.shards import shard_stacks
from tests.integration.fleet import Fleet

pytestmark = pytest.mark.integration

USERS = [f"user_2oneuser0{index:04d}" for index in range(5)]
ONE, OTHER = USERS[0], USERS[3]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, emulator):
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("one-user"), emulator, shards="3")
    fleet.write_roster({"users": [{"id": uid, "name": uid[-4:]} for uid in USERS]})
    result = fleet.fleet("up", "--quiet")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    yield fleet
    fleet.fleet("destroy", "--yes", "--quiet")


def apps(fleet: Fleet) -> dict[str, dict]:
    return {row["user_id"]: row for row in json.loads(fleet.fleet("machines").stdout)}


def apps_called(emulator, since: int) -> set[str]:
    """The apps named in the paths of the emulator's calls since call ``since``."""
    return {match[1] for call in emulator.calls[since:] if (match := re.match(r"/v1/apps/([^/?]+)", call["path"]))}


def test_an_unknown_user_is_exit_2_naming_them_before_any_stack_runs(fleet):
    result = fleet.fleet("up", "--user", ONE, "--user", "user_2nobody0here1", "--quiet")
    assert result.returncode == 2 and "no user user_2nobody0here1" in result.stderr


def test_up_of_one_user_changes_only_their_resources_and_a_full_preview_still_sees_the_rest(fleet, emulator):
    rows = apps(fleet)
    fleet.write_roster({"users": [{"id": uid, "name": uid[-4:], "state": "stopped"} for uid in USERS]})
    planned = fleet.fleet("preview", "--user", ONE)
    assert planned.returncode == 0, planned.stderr[-2000:]
    assert f"only {ONE} (--user)" in planned.stderr + planned.stdout
    assert "preview: 1 users change" in planned.stdout

    mark = len(emulator.calls)
    result = fleet.fleet("up", "--user", ONE, "--json", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    document = json.loads(result.stdout)
    assert list(document["applied"]["users"]) == [ONE] and list(document["plan"]["users"]) == [ONE]
    assert document["applied"]["others"] == {}  # not even the gateway image: no step but `same` outside ONE
    assert apps_called(emulator, mark) == {rows[ONE]["app_name"]}  # no call for another user's app
    with FlyClient(emulator.url, fleet.env["FLY_API_TOKEN"]) as fly:
        states = {uid: fly.get_machine(row["app_name"], row["id"])["state"] for uid, row in rows.items()}
    assert states == {uid: "stopped" if uid == ONE else "started" for uid in USERS}

    rest = fleet.fleet("preview")  # the others' records were carried over: their change is still to come
    assert rest.returncode == 0, rest.stderr[-2000:]
    assert f"preview: {len(USERS) - 1} users change" in rest.stdout and f"  {ONE}:" not in rest.stdout


def test_refresh_and_status_of_one_user_leave_the_others_drift_alone(fleet, emulator):
    fleet.write_roster({"users": [{"id": uid, "name": uid[-4:]} for uid in USERS]})
    assert fleet.fleet("up", "--quiet").returncode == 0
    rows = apps(fleet)
    with FlyClient(emulator.url, fleet.env["FLY_API_TOKEN"]) as fly:
        for uid in (ONE, OTHER):
            fly.stop_machine(rows[uid]["app_name"], rows[uid]["id"])
            assert fly.wait_machine(rows[uid]["app_name"], rows[uid]["id"], "stopped", timeout_s=60)
    assert fleet.fleet("status", "--user", OTHER).returncode == 1
    mark = len(emulator.calls)
    repaired = fleet.fleet("up", "--refresh", "--user", ONE, "--quiet")
    assert repaired.returncode == 0, repaired.stdout[-3000:] + repaired.stderr[-3000:]
    assert apps_called(emulator, mark) == {rows[ONE]["app_name"]}
    assert fleet.fleet("status", "--user", ONE).returncode == 0
    left = json.loads(fleet.fleet("status", "--json").stdout)
    assert left["differing"] == [OTHER]


def test_a_rollout_of_one_user_moves_only_them_with_the_token_in_the_stack_alone(fleet, emulator):
    """The rollout's snapshots read the Fly token the way the providers do: here only the stack's
    config secret holds it."""
    rows = apps(fleet)
    token = fleet.env.pop("FLY_API_TOKEN")
    fleet.run("config", "set", "--secret", "openclaw-fleet:flyApiToken", token, record=False)
    # This emulator runs no gateway to ask: the wave passes on the machine's checks alone.
    fleet.run("config", "set", "openclaw-fleet:rolloutHealthGate", "checks")
    before = images(fleet)
    dockerfile = fleet.dir / "image" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "LABEL openclaw-fleet.test=one-user\n")
    built = fleet.fleet("up", "--quiet")  # builds the image; every user keeps theirs until released
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert images(fleet) == before
    mark = len(emulator.calls)
    result = fleet.fleet("rollout", "--user", OTHER, "--json", "--quiet")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert [wave["users"] for wave in json.loads(result.stdout)["waves"]] == [[OTHER]]
    after = images(fleet)
    assert {uid for uid in USERS if after[uid] != before[uid]} == {OTHER}
    assert apps_called(emulator, mark) == {rows[OTHER]["app_name"]}  # its snapshot and machine alone
    assert token not in result.stdout + result.stderr


def images(fleet: Fleet) -> dict[str, str]:
    """User id → the image the stack records for them, over every shard."""
    found = {}
    for shard in shard_stacks(fleet.stack, 3):
        rows = json.loads(fleet.run("stack", "output", "user_images", "--json", stack=shard, record=False))
        found |= {uid: row["image"] for uid, row in rows.items()}
    return found
