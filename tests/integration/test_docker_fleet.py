"""The Docker target end to end: real Pulumi engine, real Docker, real registry, real gateways.

One stack lives through the whole module, in order: up with 3 users, a model change, stop and
start, removal of a user, a typo'd roster, destroy. Then the state file and everything the
commands printed are scanned for every secret the run used.
"""

import json
import secrets
import time

import httpx
import pytest

from openclaw_fleet.providers.docker.client import docker_client
from tests.integration.fleet import Fleet, PulumiFailed

pytestmark = pytest.mark.integration

ADA, GRACE, ALAN = "user_2itada0000001", "user_2itgrace00002", "user_2italan000003"


def roster(**changes) -> dict:
    users = {
        ADA: {
            "id": ADA,
            "name": "Ada",
            "whatsappOwner": "+15551230001",
            "providerKeys": {"ANTHROPIC_API_KEY": "ada-anthropic"},
        },
        GRACE: {
            "id": GRACE,
            "name": "Grace",
            "model": "openai/gpt-5.1",
            "providerKeys": {"OPENAI_API_KEY": "grace-openai"},
        },
        ALAN: {"id": ALAN, "name": "Alan"},
    }
    for user_id, fields in changes.items():
        if fields is None:
            users.pop(user_id)
        else:
            users[user_id] = {**users[user_id], **fields}
    return {"defaults": {"model": "anthropic/claude-sonnet-4-5", "size": "small"}, "users": list(users.values())}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, monkeypatch_module):
    secret_values = [f"ant-{secrets.token_hex(20)}", f"oai-{secrets.token_hex(20)}"]
    monkeypatch_module.setenv("OPENCLAW_KEY_IT_GRACE", secret_values[1])
    fleet = Fleet.for_docker(tmp_path_factory.mktemp("fleet"), publishHost="127.0.0.1", healthTimeoutSeconds="240")
    fleet.env["OPENCLAW_KEY_IT_GRACE"] = secret_values[1]
    fleet.set_secret("adaAnthropic", secret_values[0])
    fleet.declare_source("ada-anthropic", "config", "adaAnthropic", [ADA])
    fleet.declare_source("grace-openai", "env", "OPENCLAW_KEY_IT_GRACE", [GRACE])
    fleet.secrets = list(secret_values)
    yield fleet
    fleet.remove_stack()


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def wait_ready(url: str, timeout_s: float = 90) -> None:
    """Wait for /readyz (traffic admission; /health only says the HTTP server is live)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/readyz", timeout=10).status_code == 200:
            return
        time.sleep(1)
    raise AssertionError(f"{url} not ready within {timeout_s}s")


def invoke(url: str, token: str) -> int:
    """POST /tools/invoke (an authenticated gateway endpoint); returns the HTTP status."""
    response = httpx.post(
        f"{url}/tools/invoke",
        headers={"Authorization": f"Bearer {token}"},
        json={"tool": "sessions_list", "args": {}},
        timeout=30,
    )
    return response.status_code


def read_config(container: str) -> dict:
    with docker_client() as docker:
        code, text = docker.exec_run(container, ["cat", "/home/node/.openclaw/openclaw.json"])
    assert code == 0, text
    return json.loads(text)


def test_1_up_three_users_each_gateway_answers_and_tokens_are_isolated(fleet):
    fleet.write_roster(roster())
    fleet.up()
    users = fleet.users()
    assert set(users) == {ADA, GRACE, ALAN}
    tokens = fleet.tokens()
    fleet.secrets += tokens.values()
    assert sorted(len(token) for token in tokens.values()) == [64, 64, 64]  # 256 bits, hex
    assert len(set(tokens.values())) == 3
    for out in users.values():
        assert out["state"] == "running"
        assert httpx.get(f"{out['gateway_url']}/health", timeout=10).status_code == 200
    # Statuses are collected first so that a failing assertion shows them, never a token.
    statuses = {}
    for gateway in (ADA, GRACE):
        wait_ready(users[gateway]["gateway_url"])
        for caller in (ADA, GRACE):
            statuses[gateway, caller] = invoke(users[gateway]["gateway_url"], tokens[caller])
    assert statuses == {(ADA, ADA): 200, (ADA, GRACE): 401, (GRACE, GRACE): 200, (GRACE, ADA): 401}
    # Each container is alone on its own network.
    with docker_client() as docker:
        for out in users.values():
            found = docker.inspect_container(out["instance_id"]) or {}
            networks = found["NetworkSettings"]["Networks"]
            assert len(networks) == 1
            (network_name,) = networks
            members = docker.inspect_network(network_name)["Containers"]
            assert list(members) == [out["instance_id"]]
    assert read_config(f"{fleet.prefix}-u-itada0000001")["channels"]["whatsapp"]["allowFrom"] == ["+15551230001"]
    # the post-provision `openclaw models set` ran in each gateway (it leaves a config backup)
    with docker_client() as docker:
        for out in users.values():
            assert docker.exec_run(out["instance_id"], ["test", "-f", "/home/node/.openclaw/openclaw.json.bak"])[0] == 0


def test_1b_a_converged_fleet_previews_no_change_and_a_second_up_keeps_every_container(fleet):
    before = fleet.docker_objects()
    assert fleet.preview_changes() == []
    fleet.up()
    assert fleet.docker_objects() == before


def test_2_model_change_previews_only_that_user_then_applies(fleet):
    before = fleet.users()
    fleet.write_roster(roster(**{GRACE: {"model": "anthropic/claude-opus-4-6"}}))
    text = fleet.run("preview", "--diff")
    assert "claude-opus-4-6" in text
    steps = json.loads(fleet.run("preview", "--json"))["steps"]
    changing = [s["urn"] for s in steps if s["op"] not in ("same", "read")]
    assert changing, "the model change must show up in preview"
    assert all("itgrace00002" in urn for urn in changing), changing
    fleet.up()
    after = fleet.users()
    grace = f"{fleet.prefix}-u-itgrace00002"
    assert read_config(grace)["agents"]["defaults"]["model"]["primary"] == "anthropic/claude-opus-4-6"
    assert after[GRACE]["instance_id"] == before[GRACE]["instance_id"]  # updated in place
    assert httpx.get(f"{after[GRACE]['gateway_url']}/health", timeout=10).status_code == 200
    for other in (ADA, ALAN):
        assert after[other] == before[other]


def test_3_stopped_user_keeps_volume_and_gets_it_back(fleet):
    name = f"{fleet.prefix}-u-italan000003"
    with docker_client() as docker:
        code, _ = docker.exec_run(name, ["sh", "-c", "echo kept > /home/node/.openclaw/marker"])
        assert code == 0
    volume = fleet.users()[ALAN]["volume_id"]
    fleet.write_roster(roster(**{GRACE: {"model": "anthropic/claude-opus-4-6"}, ALAN: {"state": "stopped"}}))
    fleet.up()
    assert fleet.users()[ALAN]["state"] == "stopped"
    with docker_client() as docker:
        assert docker.inspect_container(name)["State"]["Running"] is False
        assert docker.inspect_volume(volume) is not None
    fleet.write_roster(roster(**{GRACE: {"model": "anthropic/claude-opus-4-6"}}))
    fleet.up()
    out = fleet.users()[ALAN]
    assert out["state"] == "running" and out["volume_id"] == volume
    with docker_client() as docker:
        assert docker.exec_run(name, ["cat", "/home/node/.openclaw/marker"]) == (0, "kept\n")


def test_4_removed_user_loses_everything_others_untouched(fleet):
    before = fleet.docker_objects()
    fleet.write_roster(roster(**{GRACE: {"model": "anthropic/claude-opus-4-6"}, ADA: None}))
    fleet.up()
    after = fleet.docker_objects()
    gone = f"{fleet.prefix}-u-itada0000001"
    assert gone not in after["containers"] and gone not in after["networks"]
    assert f"{gone}-data" not in after["volumes"]
    for kind in after:
        for name, snapshot in after[kind].items():
            assert before[kind][name] == snapshot, f"{kind} {name} changed"
    assert set(fleet.users()) == {GRACE, ALAN}


def test_5_typo_in_roster_is_a_clear_error_and_changes_nothing(fleet):
    before = fleet.docker_objects()
    typo = f"users:\n  - id: {GRACE}\n    name: Grace\n    modle: openai/gpt-5.1\n  - id: {ALAN}\n    name: Alan\n"
    fleet.write_roster(typo)
    with pytest.raises(PulumiFailed) as caught:
        fleet.up()
    assert f"{fleet.roster}:4: users[0].modle: unknown field" in str(caught.value)
    assert fleet.docker_objects() == before


def test_6_destroy_leaves_no_labelled_docker_object(fleet):
    fleet.write_roster(roster(**{ADA: None}))
    fleet.run("destroy", "--yes")
    assert fleet.docker_objects() == {"containers": {}, "volumes": {}, "networks": {}}


def test_7_no_secret_in_state_or_output(fleet):
    assert len(fleet.secrets) == 5  # two provider keys, three tokens
    state = "\n".join([*fleet.states, fleet.state_text()])
    output = "\n".join(fleet.transcript)
    assert len(fleet.states) >= 5 and len(output) > 1000
    assert '"ciphertext"' in state  # the secrets are there, encrypted
    hits = [
        (where, s[:6]) for s in fleet.secrets for where, text in (("state", state), ("output", output)) if s in text
    ]
    assert hits == []
