"""The client of a stack's target, for the commands that ask the target directly (``status``, a
rollout's snapshots, ``adoptable``): the Fly Machines API with the Fly token, or the Docker engine
at ``dockerHost``. The providers build their own from the same settings (``providers/base.py``).

The Fly token comes from ``FLY_API_TOKEN``, else the stack's config secret
``openclaw-fleet:flyApiToken``: the order the providers read it in, so a team that keeps the token
in the stack runs every command with it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from openclaw_fleet.environment import FLY_API_TOKEN
from openclaw_fleet.errors import CannotRun
from openclaw_fleet.providers.docker.client import DockerClient, docker_client
from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.settings import NAMESPACE, StackSettings

TOKEN_SETTING = "flyApiToken"


def fly_token(root: Path | None, stack: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """``FLY_API_TOKEN``, else the config secret ``openclaw-fleet:flyApiToken`` of ``stack`` in the
    project at ``root`` (``pulumi config get``, which decrypts it), else None."""
    if environ.get(FLY_API_TOKEN):
        return environ[FLY_API_TOKEN]
    if root is None:
        return None
    try:
        result = subprocess.run(
            ["pulumi", "config", "get", f"{NAMESPACE}:{TOKEN_SETTING}", "--stack", stack],
            cwd=root,
            env=dict(environ),
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = result.stdout.rstrip("\n")
    return value if result.returncode == 0 and value else None


def target_client(
    settings: StackSettings, what: str, root: Path | None = None, environ: Mapping[str, str] = os.environ
) -> FlyClient | DockerClient:
    """A client (a context manager) of the target of ``settings``, for ``what`` (words for the
    error); the Fly token as ``fly_token`` finds it in the project at ``root``. Raises CannotRun
    on Fly without a token."""
    if settings.target == "fly":
        token = fly_token(root, settings.stack, environ)
        if not token:
            raise CannotRun(
                f"{what} on Fly reads the Fly Machines API: set FLY_API_TOKEN or the stack's config secret "
                f"{NAMESPACE}:{TOKEN_SETTING}"
            )
        return FlyClient(settings.fly_api_url, token)
    return docker_client(settings.docker_host)
