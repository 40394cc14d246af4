"""The stack's settings (``Pulumi.<stack>.yaml``, namespace ``openclaw-fleet``) in one place.

Keys: ``target`` (``docker`` or ``fly``), ``roster`` (path, default ``users/roster.yaml``),
``namePrefix`` (default ``openclaw``), ``registry`` (``host:port`` the image is pushed to),
``baseImage`` (build arg, default ``node:24-bookworm-slim``), ``publishHost`` (publish each gateway
port on this host address; unset: not published), ``healthTimeoutSeconds`` (default 240, as long
as a cold gateway start may take), ``pidsLimit`` (default 512), ``restartPolicy`` (default
``unless-stopped``), ``flyOrg`` (default ``personal``), ``volumeSizeGb`` (Fly volume size, default
1), ``massDeletionShare`` / ``massDeletionMinimum`` (the mass-deletion guard, default 0.2 and 3),
``snapshotDir`` (Docker target: where volume snapshots are written, on the Docker host; default
``~/.local/share/openclaw-fleet/snapshots/<stack>``), ``shards`` (how many stacks the roster is
split over, default 1; see ``shards.py``), ``commandTimeoutSeconds`` (how long a command inside a
gateway, such as ``openclaw models set``, may take before it is stopped; default 300, read by the
providers), ``snapshotRetentionDays`` (how long Fly keeps a volume's daily snapshots, 1–60,
default 5 as Fly's own), ``autostop`` (Fly proxy autostop of an idle gateway: ``off`` (default:
a gateway keeps channel connections open), ``stop`` or ``suspend``), ``secretSources`` (the secret
sources rosters may name as provider keys, see ``secret_sources.py``). A number set explicitly
is kept as set, 0 included, and checked against its range before anything is created. ``dockerHost``, ``flyApiUrl`` and
``flyApiToken`` (secret; or ``FLY_API_TOKEN``) are read by the providers themselves
(``providers/base.py``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pulumi

from openclaw_fleet.secret_sources import SETTING, SecretSource, parse_sources

if TYPE_CHECKING:  # the providers import this module; they need no roster model (about 60 ms of import)
    from openclaw_fleet.roster import User

TARGETS = ("docker", "fly")
DEFAULT_TARGET = "docker"
DEFAULT_ROSTER = "users/roster.yaml"
DEFAULT_NAME_PREFIX = "openclaw"
DEFAULT_FLY_ORG = "personal"
AUTOSTOP = ("off", "stop", "suspend")  # fly.MachineService.autostop
# Instance names are <prefix>-u-<short id, up to 12>; Fly app names stop at 63 characters.
NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,45}[a-z0-9]$|^[a-z]$")
# Numeric settings: key → (default, lowest, highest, type).
NUMBERS = {
    "healthTimeoutSeconds": (240, 1, 3600, int),
    "pidsLimit": (512, 16, 1_000_000, int),
    "volumeSizeGb": (1, 1, 500, int),
    "massDeletionShare": (0.2, 0.0, 1.0, float),
    "massDeletionMinimum": (3, 0, 1_000_000, int),
    "shards": (1, 1, 256, int),
    "commandTimeoutSeconds": (300, 10, 3600, int),
    "snapshotRetentionDays": (5, 1, 60, int),
}


def default_snapshot_dir(stack: str) -> str:
    """Where a Docker-target stack writes volume snapshots when ``snapshotDir`` is unset."""
    return str(Path.home() / ".local/share/openclaw-fleet/snapshots" / stack)


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
    shards: int
    snapshot_retention_days: int = 5
    autostop: str = "off"
    secret_sources: dict[str, SecretSource] = field(default_factory=dict)

    @classmethod
    def load(cls) -> StackSettings:
        """Read the stack config. Raises pulumi.RunError naming the key on a bad value."""
        config = pulumi.Config()
        target = config.get("target") or DEFAULT_TARGET
        if target not in TARGETS:
            raise pulumi.RunError(f"openclaw-fleet:target is {target!r}; expected one of {', '.join(TARGETS)}")
        name_prefix = config.get("namePrefix") or DEFAULT_NAME_PREFIX
        if not NAME_PREFIX.match(name_prefix):
            raise pulumi.RunError(
                "openclaw-fleet:namePrefix must be 1 to 47 lowercase letters, digits and dashes, starting with a "
                "letter and not ending with a dash (it starts every app, container and volume name)"
            )
        autostop = config.get("autostop") or "off"
        if autostop not in AUTOSTOP:
            raise pulumi.RunError(f"openclaw-fleet:autostop must be one of {', '.join(AUTOSTOP)}")
        return cls(
            target=target,
            roster=config.get("roster") or DEFAULT_ROSTER,
            name_prefix=name_prefix,
            registry=config.require("registry"),
            base_image=config.get("baseImage") or "node:24-bookworm-slim",
            publish_host=config.get("publishHost"),
            health_timeout_s=_number(config, "healthTimeoutSeconds"),
            pids_limit=_number(config, "pidsLimit"),
            restart_policy=config.get("restartPolicy") or "unless-stopped",
            fly_org=config.get("flyOrg") or DEFAULT_FLY_ORG,
            volume_size_gb=_number(config, "volumeSizeGb"),
            mass_deletion_share=_number(config, "massDeletionShare"),
            mass_deletion_minimum=_number(config, "massDeletionMinimum"),
            snapshot_dir=config.get("snapshotDir") or default_snapshot_dir(pulumi.get_stack()),
            stack_label=f"{pulumi.get_project()}/{pulumi.get_stack()}",
            shards=_number(config, "shards"),
            snapshot_retention_days=_number(config, "snapshotRetentionDays"),
            autostop=autostop,
            secret_sources=_sources(config),
        )


def number(key: str, raw: object):
    """A numeric setting (``NUMBERS``) from its raw config value: the default when unset (None),
    else the value as set (0 stays 0) within its range. Raises ValueError naming the key and the
    range, never the value (a mistyped secret must not reach a log)."""
    default, low, high, kind = NUMBERS[key]
    if raw is None:
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"openclaw-fleet:{key} must be a {'whole ' if kind is int else ''}number") from None
    if not low <= value <= high:
        raise ValueError(f"openclaw-fleet:{key} must be between {low} and {high}")
    return value


def _number(config: pulumi.Config, key: str):
    try:
        return number(key, config.get(key))
    except ValueError as error:
        raise pulumi.RunError(str(error)) from None


def _sources(config: pulumi.Config) -> dict[str, SecretSource]:
    try:
        return parse_sources(config.get_object(SETTING), f"Pulumi.{pulumi.get_stack()}.yaml")
    except ValueError as error:
        raise pulumi.RunError(str(error)) from None


def provider_key_values(user: User, sources: dict[str, SecretSource]) -> dict[str, pulumi.Output[str]]:
    """Resolve a user's provider keys through the stack's declared secret sources to secret Outputs.

    A ``config`` source reads the stack config secret ``openclaw-fleet:<key>``; an ``env`` source
    the environment of the process running Pulumi. The references were checked against the
    declarations when the roster was read (``secret_sources.check_references``). Raises
    pulumi.RunError naming the user, the key and the source (never a value) when a source has no
    value.
    """
    config = pulumi.Config()
    values = {}
    for name, source_name in user.provider_keys.items():
        source = sources[source_name]
        key = source.key
        value = config.get_secret(key) if source.kind == "config" else os.environ.get(key)
        if value is None:
            where = f"stack config openclaw-fleet:{key}" if source.kind == "config" else f"environment variable {key}"
            raise pulumi.RunError(
                f"roster line {user.key_lines.get(name, user.line)}: user {user.id}: providerKeys.{name} names secret "
                f"source {source_name}, which reads {where}, which is not set"
            )
        values[name] = pulumi.Output.secret(value)
    return values
