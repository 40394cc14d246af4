"""Lifecycle, drift and safety on the Fly target through the real engine and the emulator."""

import json
import secrets

import pytest

from tests.integration.fleet import Fleet, PulumiFailed
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

USERS = ("user_2lcfada000001", "user_2lcfgrace0002", "user_2lcfalan00003")
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def roster(users=USERS, **fields) -> dict:
    return {"users": [{"id": uid, "name": uid[-5:], "region": "sjc", **fields.get(uid, {})} for uid in users]}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    emulator = Emulator(tokens=("fly-" + secrets.token_hex(16),), timing=Timing(start_s=0.3)).start()
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("lcfly"), emulator)
    fleet.write_roster(roster())
    fleet.up()
    yield fleet, emulator
    fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"] = "1"
    fleet.remove_stack()
    emulator.stop()


def machine_of(emulator: Emulator, fleet: Fleet, user_id: str):
    with emulator.state.lock:
        machines = emulator.state.apps[f"{fleet.prefix}-u-{user_id[-12:].lower()}"]["machines"].values()
        for machine in machines:
            emulator.state.advance(machine)
        (machine,) = [m for m in machines if m.state != "destroyed"]
    return machine


def commands_run(emulator: Emulator, fleet: Fleet, user_id: str) -> list[list[str]]:
    """The commands exec'd in a user's machine, each under its deadline (``timeout … N``)."""
    execs = machine_of(emulator, fleet, user_id).execs
    assert all(argv[:2] == ["timeout", "--kill-after=10"] for argv in execs), execs
    return [argv[3:] for argv in execs]


def test_post_provision_operations_run_in_order_and_pairings_only_once(setup):
    fleet, emulator = setup
    model = ["openclaw", "models", "set", "anthropic/claude-sonnet-4-5"]
    approve = ["openclaw", "pairing", "approve", "telegram"]
    assert commands_run(emulator, fleet, USERS[2]) == [model]  # right after provisioning
    fleet.write_roster(roster(**{USERS[2]: {"telegramPairings": ["PAIR1", "PAIR2"]}}))
    fleet.up()
    assert commands_run(emulator, fleet, USERS[2]) == [model, [*approve, "PAIR1"], [*approve, "PAIR2"]]
    fleet.write_roster(roster(**{USERS[2]: {"telegramPairings": ["PAIR1", "PAIR2"], "model": "openai/gpt-5.1"}}))
    fleet.up()
    assert commands_run(emulator, fleet, USERS[2])[3:] == [["openclaw", "models", "set", "openai/gpt-5.1"]]
    fleet.up()
    assert len(commands_run(emulator, fleet, USERS[2])) == 4  # nothing runs twice
    assert commands_run(emulator, fleet, USERS[0]) == [model]  # the other users untouched
    fleet.write_roster(roster())
    fleet.up()


def test_stopped_then_running_keeps_machine_and_volume(setup):
    fleet, emulator = setup
    before = machine_of(emulator, fleet, USERS[0])
    volume = fleet.users()[USERS[0]]["volume_id"]
    fleet.write_roster(roster(**{USERS[0]: {"state": "stopped"}}))
    fleet.up()
    assert fleet.users()[USERS[0]]["state"] == "stopped"
    assert machine_of(emulator, fleet, USERS[0]).state == "stopped"
    fleet.write_roster(roster())
    fleet.up()
    out = fleet.users()[USERS[0]]
    assert out["state"] == "started" and out["volume_id"] == volume
    assert machine_of(emulator, fleet, USERS[0]).id == before.id


def test_token_rotation_updates_only_that_users_secrets_and_machine(setup):
    fleet, emulator = setup
    before = fleet.tokens()
    mark = len(emulator.calls)
    fleet.write_roster(roster(**{USERS[1]: {"tokenRotation": 1}}))
    assert "[secret]" in fleet.run("preview", "--diff")  # the new token is unknown in preview, and handled
    fleet.up()
    after = fleet.tokens()
    # Tokens are compared outside the asserts, so that a failure never prints one.
    changed = {u: after[u] != before[u] for u in USERS}
    assert changed == {USERS[0]: False, USERS[1]: True, USERS[2]: False}
    app = f"{fleet.prefix}-u-{USERS[1][-12:].lower()}"
    delivered = emulator.state.apps[app]["secrets"]["OPENCLAW_GATEWAY_TOKEN"]["value"] == after[USERS[1]]
    assert delivered, "the rotated token did not reach the app secrets"
    mutated = {c["path"].split("/")[3] for c in emulator.calls[mark:] if c["method"] in MUTATING}
    assert mutated == {app}
    assert machine_of(emulator, fleet, USERS[1]).secrets_version == emulator.state.apps[app]["secrets_version"]


def test_drift_is_seen_by_refresh_and_repaired_by_up(setup):
    fleet, emulator = setup
    fleet.write_roster(roster(**{USERS[1]: {"tokenRotation": 1}}))
    deleted, stopped, reconfigured = [machine_of(emulator, fleet, u) for u in USERS]
    with emulator.state.lock:  # what someone with flyctl did behind the tool's back
        deleted.state, deleted.pending = "destroyed", []
        emulator.state.apps[f"{fleet.prefix}-u-{USERS[0][-12:].lower()}"]["volumes"][
            fleet.users()[USERS[0]]["volume_id"]
        ]["attached_machine_id"] = None
        stopped.state, stopped.pending = "stopped", []
        reconfigured.config = {**reconfigured.config, "guest": {"cpu_kind": "shared", "cpus": 2, "memory_mb": 4096}}
    refresh = fleet.run("refresh", "--yes")
    assert "deleted" in refresh and "updated" in refresh
    fleet.up()
    repaired = [machine_of(emulator, fleet, u) for u in USERS]
    assert repaired[0].id != deleted.id  # recreated on 404 only
    assert all(m.state == "started" for m in repaired)
    assert repaired[2].config["guest"] == {"cpu_kind": "shared", "cpus": 1, "memory_mb": 2048}
    assert "unchanged" in fleet.up()


def test_volume_grows_in_place_refuses_to_shrink_and_a_region_change_is_a_replacement(setup):
    fleet, emulator = setup
    before = fleet.users()
    mark = len(emulator.calls)
    fleet.run("config", "set", "openclaw-fleet:volumeSizeGb", "2")
    fleet.up()
    after = fleet.users()
    assert {u: out["volume_id"] for u, out in after.items()} == {u: out["volume_id"] for u, out in before.items()}
    extends = [c for c in emulator.calls[mark:] if c["method"] == "PUT" and c["path"].endswith("/extend")]
    assert len(extends) == 3
    app = emulator.state.apps[f"{fleet.prefix}-u-{USERS[0][-12:].lower()}"]
    assert app["volumes"][after[USERS[0]]["volume_id"]]["size_gb"] == 2
    fleet.run("config", "set", "openclaw-fleet:volumeSizeGb", "1")
    with pytest.raises(PulumiFailed) as caught:
        fleet.run("preview")
    assert "can grow but not shrink" in str(caught.value)
    fleet.run("config", "set", "openclaw-fleet:volumeSizeGb", "2")
    fleet.write_roster(roster(**{USERS[0]: {"region": "ams"}, USERS[1]: {"tokenRotation": 1}}))
    steps = json.loads(fleet.run("preview", "--json"))["steps"]
    changing = [s["urn"] for s in steps if s["op"] not in ("same", "read")]
    assert changing and all(USERS[0][-12:].lower() in urn for urn in changing), changing
    assert any("fly:Volume" in s["urn"] and s["op"] in ("replace", "create-replacement") for s in steps)
    fleet.write_roster(roster(**{USERS[1]: {"tokenRotation": 1}}))


def test_control_plane_rows(setup):
    fleet, emulator = setup
    rows = json.loads(fleet.run("stack", "output", "machines", "--json"))
    assert [r["user_id"] for r in rows] == list(USERS)
    for row in rows:
        machine = machine_of(emulator, fleet, row["user_id"])
        assert row["id"] == machine.id and row["status"] == "started" and row["region"] == "sjc"
        assert row["gateway_url"] == f"https://{row['app_name']}.fly.dev" and row["gateway_token"] == "[secret]"


def test_mass_deletion_is_refused_unless_overridden(setup):
    fleet, emulator = setup
    mark = len(emulator.calls)
    fleet.write_roster(roster(()))
    with pytest.raises(PulumiFailed) as caught:
        fleet.run("up", "--yes", "--skip-preview")
    assert "would delete 3 of 3 users" in str(caught.value)
    assert [c for c in emulator.calls[mark:] if c["method"] in MUTATING] == []
    fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"] = "1"
    try:
        fleet.up()
    finally:
        del fleet.env["OPENCLAW_FLEET_ALLOW_MASS_DELETION"]
    assert not [a for a in emulator.state.apps if a.startswith(fleet.prefix)]
