"""One client of a stack's target for the commands that ask it directly (status, snapshots,
adoptable), with the Fly token from FLY_API_TOKEN or else the stack's config secret."""

import os

import pytest

from openclaw_fleet.cli.targets import fly_token, target_client
from openclaw_fleet.errors import CannotRun
from openclaw_fleet.providers.docker.client import DockerClient
from openclaw_fleet.providers.fly.client import FlyClient
from tests.unit.users import stack_settings


def test_fly_needs_a_token_and_docker_its_host():
    fly = stack_settings(target="fly", fly_api_url="http://127.0.0.1:1")
    with pytest.raises(CannotRun, match="status on Fly reads the Fly Machines API: set FLY_API_TOKEN or the stack's"):
        target_client(fly, "status", environ={})
    with target_client(fly, "status", environ={"FLY_API_TOKEN": "t"}) as client:
        assert isinstance(client, FlyClient)
    with target_client(stack_settings(docker_host="tcp://127.0.0.1:1"), "status", environ={}) as client:
        assert isinstance(client, DockerClient)


def test_the_token_is_the_variable_else_the_stacks_config_secret(tmp_path):
    """As the providers read it: FLY_API_TOKEN wins; without it, `pulumi config get` decrypts the secret."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(f'#!/bin/sh\necho "$*" > {tmp_path}/asked\necho fo1-from-config\n')
    (bin_dir / "pulumi").chmod(0o755)
    environ = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
    assert fly_token(tmp_path, "prod", {**environ, "FLY_API_TOKEN": "fo1-env"}) == "fo1-env"
    assert fly_token(tmp_path, "prod", environ) == "fo1-from-config"
    assert (tmp_path / "asked").read_text().split() == [
        "config",
        "get",
        "openclaw-fleet:flyApiToken",
        "--stack",
        "prod",
    ]
    (bin_dir / "pulumi").write_text("#!/bin/sh\necho 'error: configuration key not found' >&2\nexit 255\n")
    assert fly_token(tmp_path, "prod", environ) is None
