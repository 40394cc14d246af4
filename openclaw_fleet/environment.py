"""Every environment variable openclaw-fleet reads, with what it means and who sets it.

Operators set the first group; the ``fleet`` command sets the second for the Pulumi processes it
starts (the program and the provider process), so they are the program's side of the boundary
with the CLI, as its stack outputs are (``outputs.py``). Pulumi's own variables
(``PULUMI_BACKEND_URL``, ``PULUMI_CONFIG_PASSPHRASE[_FILE]``) and ``CI`` keep Pulumi's and the CI
services' meaning.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

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


def flag(name: str) -> bool:
    """Whether the variable ``name`` is set to ``1``."""
    return os.environ.get(name) == "1"


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether this runs in CI: ``CI`` is ``true``, ``1`` or ``yes``, as GitHub Actions and GitLab CI set it."""
    return environ.get("CI", "").lower() in ("true", "1", "yes")
