"""Adoption of an imperatively built fleet explicit with ``adopt: true``.

The objects are made first the way an API route calling Fly and a `docker run` script make
them; then the first ``up`` takes them over, keeps the user's token and data, and the second
``up`` changes nothing.
"""

import secrets

import httpx
import pytest

from openclaw_fleet.cli.adoptable import docker_findings, fly_findings
from openclaw_fleet.providers.docker.client import docker_client
from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.roster import load_roster
from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

USER = "user_2adopt0000001"
MUTATING = {"POST", "PUT", "PATCH", "DELETE"}


def test_fly_adopts_an_imperative_app_ips_volume_machine_and_keeps_the_token(tmp_path):
    emulator = Emulator(
        tokens=(fly_token := "fly-" + secrets.token_hex(16),), timing=Timing(start_s=0.3, app_propagation_s=0)
    ).start()
    fleet = Fleet.for_fly(tmp_path, emulator)
    try:
        app, token = f"{fleet.prefix}-u-adopt0000001", secrets.token_hex(16)
        api = httpx.Client(base_url=emulator.url + "/v1", headers={"Authorization": f"Bearer {fly_token}"})
        # the imperative way, one call after another: app, IPs, volume, secrets, machine
        api.post("/apps", json={"name": app, "org_slug": "personal"})
        ips = [api.post(f"/apps/{app}/ip_assignments", json={"type": t}).json()["ip"] for t in ("shared_v4", "v6")]
        volume = api.post(
            f"/apps/{app}/volumes", json={"name": "openclaw_data", "region": "sjc", "size_gb": 1, "encrypted": True}
        ).json()["id"]
        machine = api.post(
            f"/apps/{app}/machines",
            json={
                "region": "sjc",
                "config": {
                    "image": "ghcr.io/phioranex/openclaw-docker:latest",
                    "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 2048},
                    "init": {
                        "cmd": ["gateway", "--allow-unconfigured", "--bind", "lan", "--auth", "token", "--token", token]
                    },
                    "services": [{"ports": [{"port": 443, "handlers": ["tls", "http"]}], "internal_port": 18789}],
                    "env": {"OPENCLAW_GATEWAY_TOKEN": token},
                    "mounts": [{"volume": volume, "path": "/home/node/.openclaw"}],
                },
            },
        ).json()["id"]

        fleet.write_roster({"users": [{"id": USER, "name": "Adopted", "region": "sjc", "adopt": True}]})
        with FlyClient(emulator.url, fly_token) as fly:
            (row,) = fly_findings(load_roster(fleet.roster), fleet.prefix, fly, fleet.label)
        assert row["adopt"] is True and row["managed"] is False
        assert [m["id"] for m in row["found"]["machines"]] == [machine] and row["found"]["ips"] == ips

        mark = len(emulator.calls)
        fleet.up()
        out, calls = fleet.users()[USER], emulator.calls[mark:]
        assert (out["instance_id"], out["volume_id"]) == (machine, volume) and out["state"] == "started"
        kept = fleet.tokens()[USER] == token  # compared outside the assert: a failure must not print it
        assert kept, "the adopted token was not kept; the users' stored token would stop working"
        assert [ip["ip"] for ip in emulator.state.apps[app]["ips"]] == ips
        created = [
            c["path"]
            for c in calls
            if c["method"] == "POST"
            and c["status"] in (200, 201)
            and c["path"].endswith(("/apps", "/volumes", "/ip_assignments", "/machines"))
        ]
        assert created == []  # taken over, nothing made anew
        adopted = emulator.state.apps[app]["machines"][machine]
        assert adopted.config["image"].startswith("127.0.0.1:5000/openclaw-gateway@")  # updated in place
        assert "--token" not in adopted.config["init"]["cmd"]  # the token now comes from app secrets
        mark = len(emulator.calls)
        assert "unchanged" in fleet.up()
        assert [c for c in emulator.calls[mark:] if c["method"] in MUTATING] == []
    finally:
        fleet.remove_stack()
        emulator.stop()


def test_docker_adopts_a_docker_run_gateway_keeping_token_volume_and_network(tmp_path):
    fleet = Fleet.for_docker(tmp_path, publishHost="127.0.0.1")
    name, token = f"{fleet.prefix}-u-adopt0000001", secrets.token_hex(16)
    with docker_client() as docker:
        image = docker.list_images("127.0.0.1:5000/openclaw-gateway")[0]["Id"]  # any gateway image built before
        docker.create_volume(f"{name}-data", {})
        network = docker.create_network(name, {})
        old = docker.create_container(
            name,
            {
                "Image": image,
                "Entrypoint": ["sleep", "infinity"],
                "Env": [f"OPENCLAW_GATEWAY_TOKEN={token}"],
                "HostConfig": {
                    "NetworkMode": network,
                    "Mounts": [{"Type": "volume", "Source": f"{name}-data", "Target": "/home/node/.openclaw"}],
                },
            },
        )
        docker.start_container(old)
        assert docker.exec_run(old, ["sh", "-c", "echo kept > /home/node/.openclaw/marker"])[0] == 0
    try:
        fleet.write_roster({"users": [{"id": USER, "name": "Adopted", "adopt": True}]})
        with docker_client() as docker:
            (row,) = docker_findings(load_roster(fleet.roster), fleet.prefix, docker, fleet.label)
        assert row["managed"] is False and row["found"]["container"]["id"] == old
        fleet.up()
        out = fleet.users()[USER]
        kept = fleet.tokens()[USER] == token  # compared outside the assert: a failure must not print it
        assert kept, "the adopted token was not kept"
        assert out["state"] == "running" and out["instance_id"] != old
        with docker_client() as docker:
            assert docker.exec_run(name, ["cat", "/home/node/.openclaw/marker"]) == (0, "kept\n")
            assert docker.inspect_network(name)["Id"] == network
            assert docker.inspect_container(name)["Config"]["Labels"]["openclaw-fleet.stack"] == fleet.label
        assert "unchanged" in fleet.up()
    finally:
        fleet.remove_stack()
