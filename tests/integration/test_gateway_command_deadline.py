"""A command in a gateway past its deadline (``commandTimeoutSeconds``) is stopped inside the
container, not left running, and reported as slow with its last output; real Docker engine."""

import subprocess
import time

import pytest

from openclaw_fleet.errors import GatewayCommandFailed
from openclaw_fleet.providers.gateway_command import GatewayCommandArgs, GatewayCommandProvider
from tests.integration.fleet import LOCAL_BASE_IMAGE

pytestmark = pytest.mark.integration


@pytest.fixture
def container():
    container_id = subprocess.run(
        ["docker", "run", "-d", "--rm", LOCAL_BASE_IMAGE, "sleep", "600"], capture_output=True, text=True, check=True
    ).stdout.strip()
    yield container_id
    subprocess.run(["docker", "rm", "-f", container_id], capture_output=True)


def running_commands(container_id: str) -> str:
    listing = ["sh", "-c", "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done"]
    return subprocess.run(["docker", "exec", container_id, *listing], capture_output=True, text=True).stdout


def test_a_slow_command_is_stopped_at_its_deadline_and_reported_as_slow(container):
    provider = GatewayCommandProvider()
    provider.command_timeout_s = 2
    args = GatewayCommandArgs(
        target="docker",
        container=container,
        command=["sh", "-c", "echo choosing a model; sleep 45"],
        user_id="user_2slow",
        state="running",
    )
    started = time.monotonic()
    with pytest.raises(GatewayCommandFailed) as caught:
        provider._run(args)
    assert time.monotonic() - started < 30
    assert str(caught.value) == (
        "`sh -c echo choosing a model; sleep 45` in the gateway of user user_2slow did not finish within 2 s "
        "(stack setting commandTimeoutSeconds) and was stopped; last output: choosing a model"
    )
    assert "sleep 45" not in running_commands(container)


def test_a_command_within_its_deadline_returns_its_output(container):
    provider = GatewayCommandProvider()
    provider.command_timeout_s = 20
    args = GatewayCommandArgs(
        target="docker", container=container, command=["echo", "done"], user_id="user_2quick", state="running"
    )
    assert provider._run(args) == "done\n"
