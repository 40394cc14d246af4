"""The container provider's readiness wait on the real Docker engine, with a gateway that exits at
start-up: under a restart policy it fails once the engine has restarted it three times or more
(not at the health timeout), and without one as soon as it has stopped; either way naming the exit
code, with the container's last log lines, and the half-created container removed again."""

import re
import secrets
import time

import pytest

from openclaw_fleet.errors import GatewayNotReady
from openclaw_fleet.providers.docker.client import docker_client
from openclaw_fleet.providers.docker.container import ContainerProvider

pytestmark = pytest.mark.integration

HEALTH_TIMEOUT_S = 240  # far above what a failing start takes, so the timeout cannot be what ends it


@pytest.fixture
def failing_gateway():
    """Inputs of a container whose "gateway" writes one line and exits 3; its volume goes after."""
    name = f"openclaw-readiness-{secrets.token_hex(4)}"
    props = {
        "name": name,
        "image": "openclaw-fleet/debian:bookworm",  # made by bin/setup
        "command": ["sh", "-c", "echo 'config invalid: gateway.bind' >&2; exit 3"],
        "env": {},
        "labels": {"openclaw-fleet.user": "user_2ready0"},
        "network_id": "bridge",
        "volume_name": name,
        "mount_path": "/home/node/.openclaw",
        "cpus": 0.5,
        "memory_mb": 64,
        "pids_limit": 64,
        "restart_policy": "unless-stopped",
        "files": {"openclaw.json": "{}"},
        "health_timeout_s": HEALTH_TIMEOUT_S,
    }
    yield props
    with docker_client() as docker:
        docker.remove_volume(name)


@pytest.mark.parametrize(
    "restart_policy, what_happened",
    [
        ("unless-stopped", r"exited ([3-9]|\d\d+) times while starting \(last exit code 3\)"),
        ("no", r"stopped \(exit code 3\)"),
    ],
)
def test_a_gateway_that_exits_at_start_fails_at_once_naming_its_exit_code(
    failing_gateway, restart_policy, what_happened
):
    started = time.monotonic()
    with pytest.raises(GatewayNotReady) as failure:
        ContainerProvider().create({**failing_gateway, "restart_policy": restart_policy})
    seconds = time.monotonic() - started
    said = str(failure.value)
    # Three exits or more: the engine may restart it again between two looks of the wait.
    assert re.search(rf"gateway {failing_gateway['name']} \(user user_2ready0\) {what_happened}", said), said
    assert "config invalid: gateway.bind" in said  # its log lines
    assert seconds < HEALTH_TIMEOUT_S / 2, f"took {seconds:.0f} s"
    with docker_client() as docker:
        assert docker.inspect_container(failing_gateway["name"]) is None
