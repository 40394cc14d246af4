"""One client of a stack's target for the commands that ask it directly (status, snapshots, adoptable)."""

import pytest

from openclaw_fleet.cli.targets import target_client
from openclaw_fleet.errors import CannotRun
from openclaw_fleet.providers.docker.client import DockerClient
from openclaw_fleet.providers.fly.client import FlyClient
from tests.unit.users import stack_settings


def test_fly_needs_its_token_and_docker_its_host():
    fly = stack_settings(target="fly", fly_api_url="http://127.0.0.1:1")
    with pytest.raises(CannotRun, match="status on Fly reads the Fly Machines API: set FLY_API_TOKEN"):
        target_client(fly, "status", {})
    with target_client(fly, "status", {"FLY_API_TOKEN": "t"}) as client:
        assert isinstance(client, FlyClient)
    with target_client(stack_settings(docker_host="tcp://127.0.0.1:1"), "status", {}) as client:
        assert isinstance(client, DockerClient)
