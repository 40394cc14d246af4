"""The Fly target with the emulator running machines as real containers: the real gateway answers.

This is what the mocks cannot show: the machine config the providers send (init.cmd, mounts, files,
checks) and the app secrets really start a working, token-protected OpenClaw gateway.
"""

import secrets
import time

import httpx
import pytest

from openclaw_fleet.providers.docker.client import docker_client
from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator
from tools.fly_emulator.runtime import LABEL, DockerRuntime

pytestmark = pytest.mark.integration

ADA, GRACE = "user_2rgwada000001", "user_2rgwgrace0002"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    runtime = DockerRuntime()
    emulator = Emulator(tokens=("fly-" + secrets.token_hex(16),), runtime=runtime).start()
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("flyreal"), emulator, healthTimeoutSeconds="240")
    yield fleet, emulator, runtime
    fleet.remove_stack()
    emulator.stop()


def test_real_gateways_answer_behind_the_emulator_with_their_own_tokens(setup):
    fleet, _emulator, runtime = setup
    fleet.write_roster(
        {"users": [{"id": ADA, "name": "Ada", "region": "sjc"}, {"id": GRACE, "name": "Grace", "region": "sjc"}]}
    )
    fleet.up()  # the machine's create waited for the real /health check to pass
    users, tokens = fleet.users(), fleet.tokens()
    urls = {uid: runtime.url(out["instance_id"], 18789) for uid, out in users.items()}
    assert all(urls.values())
    for url in urls.values():
        deadline = time.monotonic() + 90
        while httpx.get(f"{url}/readyz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, f"{url} not ready"
            time.sleep(1)
    statuses = {}
    for gateway, url in urls.items():
        for caller, token in tokens.items():
            answer = httpx.post(
                f"{url}/tools/invoke",
                headers={"Authorization": f"Bearer {token}"},
                json={"tool": "sessions_list", "args": {}},
                timeout=30,
            )
            statuses[gateway, caller] = answer.status_code
    assert statuses == {(ADA, ADA): 200, (ADA, GRACE): 401, (GRACE, GRACE): 200, (GRACE, ADA): 401}
    # The config file reached the volume, and holds the token only as a reference.
    with docker_client() as docker:
        code, text = docker.exec_run(
            f"flyemu-{users[ADA]['instance_id']}", ["cat", "/home/node/.openclaw/openclaw.json"]
        )
    in_file = tokens[ADA] in text  # compared outside the assert: a failure must not print it
    assert code == 0 and "${OPENCLAW_GATEWAY_TOKEN}" in text and not in_file


def test_destroy_removes_the_containers(setup):
    """Of this emulator's own machines and volumes: another run on the machine may have its own."""
    fleet, emulator, runtime = setup
    machines = set(runtime.ports)
    volumes = {f"flyemu-{volume}" for app in emulator.state.apps.values() for volume in app["volumes"]}
    assert machines and volumes
    fleet.run("destroy", "--yes")
    with docker_client() as docker:
        assert [c for c in docker.list_labelled("containers", LABEL) if c["Labels"][LABEL] in machines] == []
        assert [v for v in docker.list_labelled("volumes", LABEL) if v["Name"] in volumes] == []
