"""The stack's settings (``Pulumi.<stack>.yaml``, namespace ``openclaw-fleet``) in one place.

Keys: ``target`` (``docker`` or ``fly``), ``roster`` (path, default ``users/roster.yaml``),
``namePrefix`` (default ``openclaw``), ``registry`` (``host:port`` the image is pushed to),
``baseImage`` (build arg, default ``node:24-bookworm-slim``), ``publishHost`` (publish each gateway
port on this host address; unset: not published), ``healthTimeoutSeconds`` (default 240, as long
as a cold gateway start may take), ``pidsLimit`` (default 512), ``restartPolicy`` (default
``unless-stopped``), ``flyOrg`` (default ``personal``), ``volumeSizeGb`` (Fly volume size, default
1), ``massDeletionShare`` / ``massDeletionMinimum`` (the mass-deletion guard, default 0.2 and 3),
``snapshotDir`` (Docker target: where volume snapshots are written, on the Docker host; default
``~/.local/share/openclaw-fleet/snapshots/<stack>``). ``dockerHost``, ``flyApiUrl`` and
``flyApiToken`` (secret; or ``FLY_API_TOKEN``) are read by the providers themselves
(``providers/base.py``).
"""

import os
from dataclasses import dataclass
from pathlib import Path

import pulumi

from openclaw_fleet.roster import User

TARGETS = ("docker", "fly")


@dataclass(frozen=True)
class StackSettings:
    """Settings of one stack; build with ``StackSettings.load()`` inside a Pulumi program."""

    target: str
    roster: str
    name_prefix: str
    registry: str
    base_image: str
    publish_host: str | None
    health_timeout_s: int
    pids_limit: int
    restart_policy: str
    fly_org: str
    volume_size_gb: int
    mass_deletion_share: float
    mass_deletion_minimum: int
    snapshot_dir: str
    stack_label: str

    @classmethod
    def load(cls) -> "StackSettings":
        """Read the stack config. Raises pulumi.RunError naming the key on a bad value."""
        config = pulumi.Config()
        target = config.get("target") or "docker"
        if target not in TARGETS:
            raise pulumi.RunError(f"openclaw-fleet:target is {target!r}; expected one of {', '.join(TARGETS)}")
        return cls(
            target=target,
            roster=config.get("roster") or "users/roster.yaml",
            name_prefix=config.get("namePrefix") or "openclaw",
            registry=config.require("registry"),
            base_image=config.get("baseImage") or "node:24-bookworm-slim",
            publish_host=config.get("publishHost"),
            health_timeout_s=config.get_int("healthTimeoutSeconds") or 240,
            pids_limit=config.get_int("pidsLimit") or 512,
            restart_policy=config.get("restartPolicy") or "unless-stopped",
            fly_org=config.get("flyOrg") or "personal",
            volume_size_gb=config.get_int("volumeSizeGb") or 1,
            mass_deletion_share=config.get_float("massDeletionShare") or 0.2,
            mass_deletion_minimum=config.get_int("massDeletionMinimum") or 3,
            snapshot_dir=config.get("snapshotDir")
            or str(Path.home() / ".local/share/openclaw-fleet/snapshots" / pulumi.get_stack()),
            stack_label=f"{pulumi.get_project()}/{pulumi.get_stack()}",
        )


def provider_key_values(user: User) -> dict[str, pulumi.Output[str]]:
    """Resolve a user's provider-key references to secret Outputs.

    ``config:<key>`` reads the stack config secret ``openclaw-fleet:<key>``; ``env:<VAR>`` reads
    the environment of the process running Pulumi. Raises pulumi.RunError naming the user, the
    key and the reference (never a value) when one is missing.
    """
    config = pulumi.Config()
    values = {}
    for name, ref in user.provider_keys.items():
        source, _, key = ref.partition(":")
        value = config.get_secret(key) if source == "config" else os.environ.get(key)
        if value is None:
            where = f"stack config openclaw-fleet:{key}" if source == "config" else f"environment variable {key}"
            raise pulumi.RunError(
                f"roster line {user.line}: user {user.id}: providerKeys.{name} refers to {where}, which is not set"
            )
        values[name] = pulumi.Output.secret(value)
    return values
