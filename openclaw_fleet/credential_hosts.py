"""Where a credential may be sent when the fleet runs in CI.

The settings that decide where the Fly token or a registry password goes (``flyApiUrl``,
``dockerHost``, ``registry``) live in the stack file, which a pull request can change. In CI
(``CI=true``, as GitHub Actions and GitLab CI set it) each is refused unless it is Fly's own
(``api.machines.dev``, ``registry.fly.io``), a local Docker socket, or a host that
``OPENCLAW_FLEET_ALLOWED_HOSTS`` allows: a comma-separated list of ``host`` (any port) or
``host:port``, set as a protected CI variable outside the repository. Loopback is no exception:
another process on the runner may listen there. Checked before any request carries a token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from openclaw_fleet.environment import ALLOWED_HOSTS as ALLOWED_HOSTS_ENV
from openclaw_fleet.environment import in_ci
from openclaw_fleet.errors import CredentialHostRefused

FLY_HOSTS = frozenset({"api.machines.dev", "registry.fly.io"})


def host_and_port(setting: str, value: str) -> tuple[str, int | None]:
    """(host, port or None) of a setting's value: a URL (``flyApiUrl``, ``dockerHost``
    ``tcp://…``) or a registry reference (``host[:port][/path]``). A unix socket is ("", None)."""
    if value.startswith(("unix://", "npipe://")):
        return "", None
    if "://" not in value:
        value = "//" + value.split("/", 1)[0] if setting == "registry" else "//" + value
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port


def check_credential_host(setting: str, value: str | None, environ: Mapping[str, str] = os.environ) -> None:
    """Raise CredentialHostRefused when, in CI, setting ``openclaw-fleet:<setting>`` sends a
    credential to a host that is neither Fly's nor allowed by ``OPENCLAW_FLEET_ALLOWED_HOSTS``.
    ``value`` None (unset) means the default, Fly's API or the local Docker socket: allowed.
    The message names the setting and the host, which are in the stack file already."""
    if not value or not in_ci(environ):
        return
    host, port = host_and_port(setting, value)
    if setting == "dockerHost" and not host:
        return  # a local socket
    if host in FLY_HOSTS:
        return
    allowed = {entry.strip().lower() for entry in environ.get(ALLOWED_HOSTS_ENV, "").split(",") if entry.strip()}
    if host in allowed or (port is not None and f"{host}:{port}" in allowed):
        return
    raise CredentialHostRefused(
        f"openclaw-fleet:{setting} sends credentials to {host or value!r}, which is not Fly's and which "
        f"{ALLOWED_HOSTS_ENV} does not allow; in CI the stack file cannot choose where a token goes: add the "
        f"host to {ALLOWED_HOSTS_ENV} in the CI's protected variables if it is yours"
    )
