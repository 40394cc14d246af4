"""The client of a stack's target, for the commands that ask the target directly (``status``, a
rollout's snapshots, ``adoptable``): the Fly Machines API with ``FLY_API_TOKEN``, or the Docker
engine at ``dockerHost``. The providers build their own from the same settings (``providers/base.py``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from openclaw_fleet.environment import FLY_API_TOKEN
from openclaw_fleet.errors import CannotRun
from openclaw_fleet.providers.docker.client import DockerClient, docker_client
from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.settings import StackSettings


def target_client(
    settings: StackSettings, what: str, environ: Mapping[str, str] = os.environ
) -> FlyClient | DockerClient:
    """A client (a context manager) of the target of ``settings``, for ``what`` (words for the
    error). Raises CannotRun on Fly without ``FLY_API_TOKEN`` in the environment."""
    if settings.target == "fly":
        token = environ.get(FLY_API_TOKEN)
        if not token:
            raise CannotRun(
                f"{what} on Fly reads the Fly Machines API: set FLY_API_TOKEN (a token in the stack's config is read "
                "by the providers only)"
            )
        return FlyClient(settings.fly_api_url, token)
    return docker_client(settings.docker_host)
