"""Every environment variable openclaw-fleet reads, with what it means and who sets it.

Operators set the first group; the ``fleet`` command sets the second for the Pulumi processes it
starts (the program and the provider process), so they are the program's side of the boundary
with the CLI, as its stack outputs are (``outputs.py``). Pulumi's own variables
(``PULUMI_BACKEND_URL``, ``PULUMI_CONFIG_PASSPHRASE[_FILE]``) and ``CI`` keep Pulumi's and the CI
services' meaning.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

# Set by operators or CI.
FLY_API_TOKEN = "FLY_API_TOKEN"
"""The Fly API token (``fly tokens create``); wins over the stack secret ``openclaw-fleet:flyApiToken``."""
STACK = "OPENCLAW_FLEET_STACK"
"""The base stack ``bin/fleet`` runs when ``--stack`` is not given (default ``dev``)."""
ALLOW_MASS_DELETION = "OPENCLAW_FLEET_ALLOW_MASS_DELETION"
"""``1``: let a run delete more users than the mass-deletion guard allows (``departures.py``)."""
ALLOWED_HOSTS = "OPENCLAW_FLEET_ALLOWED_HOSTS"
"""Comma-separated hosts a credential may go to in CI besides Fly's own (``credential_hosts.py``)."""
SDK_DEBUG = "OPENCLAW_FLEET_SDK_DEBUG"
"""``1``: keep the SDK's per-resource debug messages (``sdk_workarounds.py``)."""
KEY_SECRETS = "OPENCLAW_FLEET_KEY_SECRETS"
"""JSON object of the CI's secrets (GitHub's ``toJSON(secrets)``): only the ``ENV_SOURCE_PREFIX`` ones are kept."""
ENV_SOURCE_PREFIX = "OPENCLAW_KEY_"
"""The only environment variables a secret source may read (``secret_sources.py``)."""
LOCAL_STATE = "OPENCLAW_FLEET_LOCAL_STATE"
"""``1``: let a stack other than ``dev`` keep its state in a local ``./.state`` (``state_refusal``)."""
WHOLE_OUTPUTS = "OPENCLAW_FLEET_WHOLE_OUTPUTS"
"""``1``: store resources' outputs whole, for going back to a version before 2026-10 (``compat/``)."""

# Set by the ``fleet`` command for the Pulumi processes it starts.
DIGEST = "OPENCLAW_FLEET_DIGEST"
"""SHA-256 of what decides a shard's plan; the program exports it as ``fleet_digest``."""
PREVIOUS_OUTPUTS = "OPENCLAW_FLEET_PREVIOUS_OUTPUTS"
"""Path of a JSON file, stack name → outputs ``fleet`` has read, for a preview's program."""
RELEASE = "OPENCLAW_FLEET_RELEASE"
"""JSON object, user id → ``built`` or ``previous``: the users a rollout wave moves (``user_images.py``)."""
PROVIDER_THREADS = "OPENCLAW_FLEET_PROVIDER_THREADS"
"""Provider calls at once in the provider process (default 32; ``fleet`` sets its ``--parallel``)."""
RESTORE = "OPENCLAW_FLEET_RESTORE"
"""JSON object, user id → Fly volume snapshot id: the users whose volume a rollout's ``--back --restore`` replaces."""
ONLY_USERS = "OPENCLAW_FLEET_ONLY_USERS"
"""JSON list of the user ids a ``fleet --user`` run touches; the program carries the others' records over."""


def flag(name: str) -> bool:
    """Whether the variable ``name`` is set to ``1``."""
    return os.environ.get(name) == "1"


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this runs in CI: ``CI`` is ``true``, ``1`` or ``yes``, as GitHub Actions and GitLab CI set it."""
    return environ.get("CI", "").lower() in ("true", "1", "yes")


def state_refusal(stack: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """Why ``stack`` may not run with the backend ``environ`` names, or None. With no
    ``PULUMI_BACKEND_URL``: refused in CI (an unset secret, not a wish for fresh state), and
    outside CI for any stack but ``dev`` unless ``OPENCLAW_FLEET_LOCAL_STATE=1`` (production state
    on one machine is lost with it). ``bin/fleet`` applies the same rule before it defaults to ./.state."""
    if environ.get("PULUMI_BACKEND_URL"):
        return None
    if in_ci(environ):
        return (
            f"CI={environ.get('CI')} and PULUMI_BACKEND_URL is not set (or empty): set the fleet's backend "
            "(s3://…, postgres://…, https://api.pulumi.com) as a CI secret"
        )
    if stack != "dev" and environ.get(LOCAL_STATE) != "1":
        return (
            f"stack {stack} has no backend (PULUMI_BACKEND_URL is not set): only the dev stack keeps its state "
            f"locally by default; set the team's backend, or {LOCAL_STATE}=1 to keep this stack's state on this "
            "machine alone"
        )
    return None


def take_key_sources(environ: MutableMapping[str, str] = os.environ) -> list[str]:
    """Move the ``ENV_SOURCE_PREFIX`` entries of ``KEY_SECRETS`` (a JSON object) into ``environ``
    and remove ``KEY_SECRETS`` from it, so that the Pulumi processes get those and no other
    secret of the CI; return the names taken. A GitHub workflow cannot list secrets by prefix, so
    it hands this over whole, to this code of the default branch. Not a JSON object: nothing is taken."""
    raw = environ.pop(KEY_SECRETS, None)
    try:
        secrets = json.loads(raw) if raw else {}
    except ValueError:
        return []
    if not isinstance(secrets, dict):
        return []
    taken = [name for name, value in secrets.items() if name.startswith(ENV_SOURCE_PREFIX) and isinstance(value, str)]
    environ.update({name: secrets[name] for name in taken})
    return sorted(taken)


def json_from(name: str, valid: Callable[[Any], bool], shape: str) -> Any:
    """The JSON value of environment variable ``name`` (None when unset or empty). Raises
    ValueError saying it must be ``shape`` when it is not JSON or ``valid`` refuses it."""
    text = os.environ.get(name)
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError(f"{name} must be {shape}") from None
    if not valid(value):
        raise ValueError(f"{name} must be {shape}")
    return value
