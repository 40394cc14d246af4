"""The emulator keeps the live API's rules, so the providers are tested against them."""

import time

import httpx
import pytest

from tools.fly_emulator import Emulator, Timing

CONFIG = {"image": "r/i@sha256:1", "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 2048}}


@pytest.fixture
def api():
    emulator = Emulator(tokens=("t",), timing=Timing(start_s=0.2, app_propagation_s=0)).start()
    client = httpx.Client(base_url=emulator.url + "/v1", headers={"Authorization": "Bearer t"})
    client.post("/apps", json={"name": "app-1", "org_slug": "personal"})
    yield client
    emulator.stop()


def machine(api, **extra):
    answer = api.post("/apps/app-1/machines", json={"name": "m", "region": "sjc", "config": {**CONFIG, **extra}})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_no_token_is_401(api):
    assert httpx.get(str(api.base_url).rstrip("/") + "/apps?org_slug=personal").status_code == 401


def test_invalid_config_is_400_with_a_fly_style_error(api):
    answer = api.post(
        "/apps/app-1/machines",
        json={"config": {"image": "x", "guest": {"cpu_kind": "shared", "cpus": 3, "memory_mb": 1}}},
    )
    assert answer.status_code == 400 and "guest" in answer.json()["error"]


def test_state_machine_and_wait_timeout(api):
    m = machine(api)
    assert m["state"] == "created"
    wait = api.get(f"/apps/app-1/machines/{m['id']}/wait", params={"state": "stopped", "timeout": 1})
    assert wait.status_code == 408 and wait.json()["error"].startswith("deadline_exceeded")
    assert api.get(f"/apps/app-1/machines/{m['id']}/wait", params={"state": "started"}).json()["state"] == "started"
    assert api.post(f"/apps/app-1/machines/{m['id']}/stop").status_code == 400  # no JSON body
    assert api.post(f"/apps/app-1/machines/{m['id']}/stop", json={}).status_code == 200
    assert api.get(f"/apps/app-1/machines/{m['id']}/wait", params={"state": "stopped"}).json()["state"] == "stopped"


def test_start_while_created_is_failed_precondition(api):
    m = machine(api)
    answer = api.post(f"/apps/app-1/machines/{m['id']}/start")
    assert answer.status_code == 412 and "failed_precondition" in answer.json()["error"]


def test_second_lease_and_unleased_update_are_refused(api):
    m = machine(api)
    lease = api.post(f"/apps/app-1/machines/{m['id']}/lease", params={"ttl": 30}, json={})
    assert lease.status_code == 201
    nonce = lease.json()["data"]["nonce"]
    assert api.post(f"/apps/app-1/machines/{m['id']}/lease", params={"ttl": 30}, json={}).status_code == 409
    assert api.post(f"/apps/app-1/machines/{m['id']}", json={"config": CONFIG}).status_code == 409
    updated = api.post(
        f"/apps/app-1/machines/{m['id']}", json={"config": CONFIG}, headers={"fly-machine-lease-nonce": nonce}
    )
    assert updated.status_code == 200 and updated.json()["instance_id"] != m["instance_id"]


def test_one_machine_per_volume_and_attached_volume_cannot_be_deleted(api):
    volume = api.post("/apps/app-1/volumes", json={"name": "openclaw_data", "region": "sjc", "size_gb": 1}).json()
    mount = {"mounts": [{"volume": volume["id"], "path": "/data"}]}
    m = machine(api, **mount)
    second = api.post("/apps/app-1/machines", json={"name": "m2", "region": "sjc", "config": {**CONFIG, **mount}})
    assert second.status_code == 400 and "already attached" in second.json()["error"]
    assert api.delete(f"/apps/app-1/volumes/{volume['id']}").status_code == 409
    api.delete(f"/apps/app-1/machines/{m['id']}", params={"force": "true"})
    api.get(f"/apps/app-1/machines/{m['id']}/wait", params={"state": "destroyed"})
    assert api.delete(f"/apps/app-1/volumes/{volume['id']}").status_code == 200


def test_secrets_are_never_returned_in_plain_text(api):
    answer = api.post("/apps/app-1/secrets", json={"values": {"TOKEN": "s3cret-value"}})
    assert answer.json()["version"] == 1
    listing = api.get("/apps/app-1/secrets", params={"show_secrets": "true"})
    assert "s3cret-value" not in listing.text and listing.json()["secrets"][0]["name"] == "TOKEN"


def test_app_names_are_unique_and_deletion_cascades(api):
    assert api.post("/apps", json={"name": "app-1", "org_slug": "personal"}).status_code == 409
    machine(api)
    assert api.delete("/apps/app-1").status_code == 202
    assert api.get("/apps/app-1/machines").status_code == 404


def test_a_brand_new_app_can_404_on_volume_create():
    emulator = Emulator(tokens=("t",), timing=Timing(app_propagation_s=0.5)).start()
    client = httpx.Client(base_url=emulator.url + "/v1", headers={"Authorization": "Bearer t"})
    client.post("/apps", json={"name": "fresh", "org_slug": "personal"})
    body = {"name": "openclaw_data", "region": "sjc", "size_gb": 1}
    assert client.post("/apps/fresh/volumes", json=body).status_code == 404
    time.sleep(0.6)
    assert client.post("/apps/fresh/volumes", json=body).status_code == 200
    emulator.stop()
