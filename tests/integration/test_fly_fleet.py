"""The Fly target end to end: the real Pulumi engine and the real providers against the emulator.

The emulator (tools/fly_emulator) runs in this process; the providers reach it over HTTP exactly
as they would reach https://api.machines.dev, with only the base URL and token changed.
"""

import base64
import json
import secrets

import pytest

from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Faults

pytestmark = pytest.mark.integration

ADA, GRACE, ALAN = "user_2flyada000001", "user_2flygrace0002", "user_2flyalan00003"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def roster(users=(ADA, GRACE, ALAN), **changes) -> dict:
    entries = [
        {"id": uid, "name": uid[-5:], "region": "sjc", "providerKeys": {"ANTHROPIC_API_KEY": "shared-anthropic"}}
        for uid in users
    ]
    for entry in entries:
        entry.update(changes.get(entry["id"], {}))
    return {"defaults": {"model": "anthropic/claude-sonnet-4-5"}, "users": entries}


def fly_fleet(tmp_path_factory, emulator: Emulator) -> Fleet:
    token = next(iter(emulator.tokens))
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("fly"), emulator)
    fleet.secrets = [token, f"ant-{secrets.token_hex(20)}"]
    fleet.set_secret("sharedAnthropic", fleet.secrets[1])
    fleet.declare_source("shared-anthropic", "config", "sharedAnthropic")
    return fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, emulator):
    fleet = fly_fleet(tmp_path_factory, emulator)
    yield fleet
    emulator.set_faults(Faults())
    fleet.remove_stack()


def apps_of(emulator: Emulator, fleet: Fleet) -> dict:
    return {name: app for name, app in emulator.state.apps.items() if name.startswith(fleet.prefix + "-")}


def calls_since(emulator: Emulator, mark: int) -> list[dict]:
    return emulator.calls[mark:]


def test_1_up_three_users_gets_each_their_app_ips_volume_secrets_machine(fleet, emulator):
    fleet.write_roster(roster())
    fleet.up()
    users = fleet.users()
    apps = apps_of(emulator, fleet)
    assert sorted(apps) == sorted(f"{fleet.prefix}-u-{uid[-12:].lower()}" for uid in (ADA, GRACE, ALAN))
    tokens = fleet.tokens()
    fleet.secrets += tokens.values()
    for user_id, out in users.items():
        app = apps[out["gateway_url"].removeprefix("https://").removesuffix(".fly.dev")]
        assert out["state"] == "started"
        # Its own private network: no other user's machine can reach its gateway port over 6PN
        assert app["network"] == app["name"]
        # IPs: one shared v4, one v6, so that <app>.fly.dev resolves
        assert sorted("v6" if ":" in ip["ip"] else ("shared_v4" if ip["shared"] else "v4") for ip in app["ips"]) == [
            "shared_v4",
            "v6",
        ]
        # Volume: 1 GB, encrypted, openclaw_data, same region as the machine
        (volume,) = app["volumes"].values()
        assert (volume["name"], volume["size_gb"], volume["encrypted"], volume["region"]) == (
            "openclaw_data",
            1,
            True,
            "sjc",
        )
        assert volume["id"] == out["volume_id"]
        # Secrets: the token and the provider key, by name only
        assert sorted(app["secrets"]) == ["ANTHROPIC_API_KEY", "OPENCLAW_GATEWAY_TOKEN"]
        # Secrets are compared outside the asserts, so that a failure never prints one.
        delivered = app["secrets"]["OPENCLAW_GATEWAY_TOKEN"]["value"] == tokens[user_id]
        assert delivered, "the app secret is not the user's gateway token"
        # Machine: the gateway's config, field by field
        (machine,) = app["machines"].values()
        config = machine.config
        assert machine.id == out["instance_id"] and machine.state == "started" and machine.region == "sjc"
        assert config["init"]["cmd"] == ["gateway", "--allow-unconfigured", "--bind", "lan", "--auth", "token"]
        assert config["image"].startswith("127.0.0.1:5000/openclaw-gateway@sha256:")
        assert config["guest"] == {"cpu_kind": "shared", "cpus": 1, "memory_mb": 2048}
        assert config["mounts"] == [{"volume": volume["id"], "path": "/home/node/.openclaw", "name": "openclaw_data"}]
        (service,) = config["services"]
        assert service["internal_port"] == 18789
        assert sorted((p["port"], tuple(p["handlers"]), p.get("force_https")) for p in service["ports"]) == [
            (80, ("http",), True),  # Fly's proxy redirects plain HTTP to 443
            (443, ("tls", "http"), None),
        ]
        assert (service["autostop"], service["autostart"]) == ("off", True)
        health = config["checks"]["health"]
        assert (health["type"], health["port"], health["path"]) == ("http", 18789, "/health")
        assert config["env"] == {"OPENCLAW_STATE_DIR": "/home/node/.openclaw"}  # no token in config
        in_config = tokens[user_id] in json.dumps(config)
        assert not in_config, "the gateway token is in the machine config"
        (file,) = config["files"]
        assert file["guest_path"] == "/home/node/.openclaw/openclaw.json"
        rendered = json.loads(base64.b64decode(file["raw_value"]))
        assert rendered["gateway"]["auth"] == {"mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}"}
        assert config["restart"] == {"policy": "always"}
        assert config["metadata"]["openclaw-fleet-user"] == user_id
        assert config["metadata"]["fly_process_group"] == "app"  # `fly machines list` PROCESS GROUP
        assert volume["snapshot_retention"] == 5


def test_2_new_image_updates_every_released_machine_in_place_under_a_lease(fleet, emulator):
    before = {
        name: (
            list(app["machines"]),
            [m.instance_id for m in app["machines"].values()],
            list(app["volumes"]),
            [ip["ip"] for ip in app["ips"]],
        )
        for name, app in apps_of(emulator, fleet).items()
    }
    entrypoint = fleet.dir / "image" / "entrypoint.sh"
    entrypoint.write_text(entrypoint.read_text() + f"# rebuild {secrets.token_hex(4)}\n")
    mark = len(emulator.calls)
    fleet.up(release=fleet.users())
    calls = calls_since(emulator, mark)
    for name, app in apps_of(emulator, fleet).items():
        machine_ids, instance_ids, volumes, ips = before[name]
        assert list(app["machines"]) == machine_ids  # same machine
        assert [m.instance_id for m in app["machines"].values()] != instance_ids  # new version
        assert list(app["volumes"]) == volumes and [ip["ip"] for ip in app["ips"]] == ips
        updates = [
            c for c in calls if c["method"] == "POST" and c["path"] == f"/v1/apps/{name}/machines/{machine_ids[0]}"
        ]
        assert updates and all(c["leased"] for c in updates)
        assert any(c["method"] == "POST" and c["path"].endswith("/lease") for c in calls if name in c["path"])
    touched = [c for c in calls if c["method"] in MUTATING and "/machines/" not in c["path"]]
    assert touched == []


def test_3_noop_preview_and_up_change_nothing(fleet, emulator):
    mark = len(emulator.calls)
    fleet.run("preview", "--diff")
    assert [c for c in calls_since(emulator, mark) if c["method"] in MUTATING] == []
    output = fleet.up()
    assert "unchanged" in output and "updated" not in output and "created" not in output
    assert [c for c in calls_since(emulator, mark) if c["method"] in MUTATING] == []
    # refresh reads every resource back and finds nothing to change
    fleet.run("refresh", "--yes")
    assert [c for c in calls_since(emulator, mark) if c["method"] in MUTATING] == []
    assert fleet.preview_changes() == []


def test_4_faults_still_converge_ten_users_without_duplicates(tmp_path_factory, emulator):
    faulty = fly_fleet(tmp_path_factory, emulator)
    users = tuple(f"user_2flt{i:08d}" for i in range(10))
    faulty.write_roster(roster(users))
    emulator.set_faults(Faults(latency_s=0.1, rate_429=0.15, rate_5xx=0.15, rate_drop_after=0.03, seed=7))
    mark = len(emulator.calls)
    try:
        faulty.up()
    finally:
        emulator.set_faults(Faults())
    calls = calls_since(emulator, mark)
    assert sum(c["status"] in (429, 500, 502, 503) for c in calls) > 10  # the faults did happen
    apps = apps_of(emulator, faulty)
    assert len(apps) == 10
    for app in apps.values():
        live = [m for m in app["machines"].values() if m.state != "destroyed"]
        assert len(live) == 1 and live[0].state == "started"
        assert len(app["volumes"]) == 1 and len(app["ips"]) == 2
    faulty.run("destroy", "--yes")
    assert apps_of(emulator, faulty) == {}
    faulty.run("stack", "rm", "--yes", "--force", check=False)


def test_5_removed_user_loses_all_fly_objects_others_untouched(fleet, emulator):
    gone = f"{fleet.prefix}-u-{ALAN[-12:].lower()}"
    mark = len(emulator.calls)
    fleet.write_roster(roster((ADA, GRACE)))
    fleet.up()
    assert gone not in emulator.state.apps
    assert len(apps_of(emulator, fleet)) == 2
    mutated = {c["path"].split("/")[3] for c in calls_since(emulator, mark) if c["method"] in MUTATING}
    assert mutated == {gone}


def test_6_no_secret_in_preview_output_or_state(fleet, emulator):
    fleet.write_roster(roster((ADA, GRACE), **{GRACE: {"model": "openai/gpt-5.1"}}))
    preview = fleet.run("preview", "--diff")
    assert "gpt-5.1" in preview
    fleet.up()
    state = "\n".join([*fleet.states, fleet.state_text()])
    output = "\n".join(fleet.transcript)
    assert len(fleet.secrets) == 5  # Fly API token, provider key, three gateway tokens
    hits = [
        (where, s[:6]) for s in fleet.secrets for where, text in (("state", state), ("output", output)) if s in text
    ]
    assert hits == []
