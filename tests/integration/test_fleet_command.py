"""The ``fleet`` command over shards, against the Fly emulator: the real engine through the
Automation API, three shard stacks of one base stack.

Walks: a first ``up`` where one user's app name is held by another org (that user fails, named;
the others converge) → ``up`` again after the name is freed (converges) → ``up`` again (a no-op:
no shard is updated, no writing API call) → ``up --changed`` skips every shard, but not one
whose drift a refresh recorded → a removal that no single shard would refuse but the
fleet does → a ``namePrefix`` change that would delete every app (refused by reading the plan) →
``machines`` merged over the shards → ``destroy``.
"""

import json
import secrets
import subprocess

import httpx
import pytest

from openclaw_fleet.roster import instance_name
from openclaw_fleet.shards import shard_of
from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

USERS = [f"user_2shard{index:07d}" for index in range(9)]
SHARDS = 3
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def roster(users) -> dict:
    return {"users": [{"id": uid, "name": uid[-4:], "region": "sjc"} for uid in users]}


@pytest.fixture(scope="module")
def emulator():
    token = "fly-test-" + secrets.token_hex(16)
    emulator = Emulator(tokens=(token,), orgs=("personal", "someone-else"), timing=Timing(start_s=0.5)).start()
    yield emulator
    emulator.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, emulator):
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("shards"), emulator, shards=str(SHARDS))
    fleet.write_roster(roster(USERS))
    yield fleet
    fleet.fleet("destroy", "--yes")


def squatted(fleet: Fleet, emulator: Emulator) -> str:
    """The app name of USERS[4], created in another org (as a name taken on Fly would be)."""
    name = instance_name(fleet.prefix, USERS[4])
    token = next(iter(emulator.tokens))
    answer = httpx.post(
        f"{emulator.url}/v1/apps",
        json={"name": name, "org_slug": "someone-else"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 201, answer.text
    return name


def writing_calls(emulator: Emulator, mark: int) -> list[str]:
    return [f"{c['method']} {c['path']}" for c in emulator.calls[mark:] if c["method"] in MUTATING]


def test_1_one_failing_user_does_not_stop_the_others_and_is_named(fleet, emulator):
    name = squatted(fleet, emulator)
    result = fleet.fleet("up")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"1 user(s) failed: {USERS[4]}" in result.stderr
    assert USERS[4] + ": " in result.stdout and "FAILED" in result.stdout
    for uid in USERS:
        app = emulator.state.apps.get(instance_name(fleet.prefix, uid))
        if uid == USERS[4]:
            assert app["org"] == "someone-else" and not app["machines"]
            continue
        machines = list(app["machines"].values())
        assert [m.state for m in machines] == ["started"], uid
    emulator.state.apps.pop(name)


def test_2_users_live_in_the_stack_of_their_shard(fleet, emulator):
    result = fleet.fleet("up")
    assert result.returncode == 0, result.stdout + result.stderr
    for index in range(1, SHARDS + 1):
        stack = f"{fleet.stack}-shard-{index}-of-{SHARDS}"
        outputs = json.loads(fleet.run("stack", "output", "roster_state", "--json", stack=stack))
        assert sorted(outputs) == sorted(uid for uid in USERS if shard_of(uid, SHARDS) == index)
    assert json.loads(fleet.run("stack", "output", "--json")) == {}  # the base stack holds nobody
    # The shards are never selected (every command names its stack), so a plain `pulumi` command
    # still addresses the base stack afterwards.
    current = subprocess.run(
        ["pulumi", "stack", "--show-name", "--non-interactive"], cwd=fleet.dir, env=fleet.env, capture_output=True
    )
    assert current.stdout.decode().strip() == fleet.stack, current.stderr


def test_3_up_again_updates_no_stack_and_writes_nothing(fleet, emulator):
    mark = len(emulator.calls)
    result = fleet.fleet("up")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 users change, 9 unchanged" in result.stdout
    assert writing_calls(emulator, mark) == []


def test_3b_changed_skips_converged_shards_but_not_one_a_refresh_found_drift_in(fleet, emulator):
    mark = len(emulator.calls)
    result = fleet.fleet("up", "--changed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("unchanged since its last update") == SHARDS, result.stdout
    assert writing_calls(emulator, mark) == []

    drifted = USERS[0]
    machine = next(iter(emulator.state.apps[instance_name(fleet.prefix, drifted)]["machines"].values()))
    with emulator.state.lock:  # stopped behind the tool's back, then recorded by a refresh
        machine.state, machine.pending = "stopped", []
    shard = f"{fleet.stack}-shard-{shard_of(drifted, SHARDS)}-of-{SHARDS}"
    fleet.run("refresh", "--yes", stack=shard)
    result = fleet.fleet("up", "--changed")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("unchanged since its last update") == SHARDS - 1, result.stdout
    assert f"{shard}: unchanged" not in result.stdout
    assert machine.state == "started"


def test_4_the_guard_counts_removals_across_shards(fleet, emulator):
    leaving = USERS[:4]
    assert max(sum(shard_of(uid, SHARDS) == index for uid in leaving) for index in range(1, SHARDS + 1)) < 4
    fleet.write_roster(roster(USERS[4:]))
    mark = len(emulator.calls)
    result = fleet.fleet("up")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "delete or lose the data of 4 of 9 users" in result.stderr
    assert all(uid in result.stderr for uid in leaving)
    assert writing_calls(emulator, mark) == []
    fleet.write_roster(roster(USERS))


def test_5_the_guard_reads_the_plan_a_prefix_change_is_refused(fleet, emulator):
    fleet.run("config", "set", "openclaw-fleet:namePrefix", fleet.prefix + "x")
    mark = len(emulator.calls)
    try:
        result = fleet.fleet("preview")
    finally:
        fleet.run("config", "set", "openclaw-fleet:namePrefix", fleet.prefix)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "would lose their data (Fly app deleted" in result.stderr
    assert "9 of 9 users" in result.stderr
    assert writing_calls(emulator, mark) == []


def test_6_machines_are_merged_over_the_shards_without_tokens(fleet, emulator):
    result = fleet.fleet("machines")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert sorted(row["user_id"] for row in rows) == sorted(USERS)
    assert {row["gateway_token"] for row in rows} == {"[secret]"}
    assert all(row["status"] == "started" for row in rows)
    shown = fleet.fleet("machines", "--show-secrets")
    fleet.transcript.pop()  # it holds the tokens
    tokens = {row["gateway_token"] for row in json.loads(shown.stdout)}
    assert len(tokens) == len(USERS) and "[secret]" not in tokens


def test_7_destroy_removes_every_shard(fleet, emulator):
    result = fleet.fleet("destroy", "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not [name for name in emulator.state.apps if name.startswith(fleet.prefix + "-")]


def test_8_a_refused_token_or_a_silent_api_stops_the_run_at_once(fleet, emulator):
    fleet.env["FLY_API_TOKEN"], token = "not-a-token", fleet.env["FLY_API_TOKEN"]
    try:
        result = fleet.fleet("preview")
    finally:
        fleet.env["FLY_API_TOKEN"] = token
    assert result.returncode == 2
    assert "refused the token in FLY_API_TOKEN (401)" in result.stderr
    assert "not-a-token" not in result.stdout + result.stderr
