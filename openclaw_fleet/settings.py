"""The stack's settings (``Pulumi.<stack>.yaml``, namespace ``openclaw-fleet``): one model that
the program (``StackSettings.load``, through ``pulumi.Config``) and the ``fleet`` command
(``StackSettings.read``, from the stack file) both build with ``StackSettings.parse``.

Keys: ``target`` (``docker`` or ``fly``), ``roster`` (path, default ``users/roster.yaml``),
``namePrefix`` (default ``openclaw``), ``registry`` (``host:port`` the image is pushed to),
``baseImage`` (build arg, default ``node:24-bookworm-slim``), ``publishHost`` (publish each gateway
port on this host address; unset: not published), ``healthTimeoutSeconds`` (default 240, as long
as a cold gateway start may take), ``pidsLimit`` (default 512), ``restartPolicy`` (default
``unless-stopped``), ``flyOrg`` (default ``personal``), ``flyApiUrl`` (default Fly's),
``dockerHost`` (default the local socket), ``volumeSizeGb`` (Fly volume size, default 1),
``massDeletionShare`` / ``massDeletionMinimum`` (the mass-deletion guard, default 0.2 and 3),
``snapshotDir`` (Docker target: where volume snapshots are written, on the Docker host; default
``~/.local/share/openclaw-fleet/snapshots/<stack>``), ``shards`` (how many stacks the roster is
split over, default 1; ``shards.py``), ``commandTimeoutSeconds`` (how long a command inside a
gateway may take, default 300, read by the providers), ``snapshotRetentionDays`` (how long Fly
keeps a volume's daily snapshots, 1–60, default 5 as Fly's own), ``autostop`` (Fly proxy autostop
of an idle gateway: ``off`` (default: a gateway keeps channel connections open), ``stop`` or
``suspend``), ``secretSources`` (what rosters may name as provider keys, ``secret_sources.py``).
A number set explicitly is kept as set, 0 included, and checked against its range before
anything is created. ``flyApiToken`` (secret; or ``FLY_API_TOKEN``) and the registry credentials
are read by the providers only (``providers/base.py``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from openclaw_fleet.base_image import base_image_refusal
from openclaw_fleet.errors import SettingsError
from openclaw_fleet.secret_sources import SETTING as SOURCES_SETTING
from openclaw_fleet.secret_sources import SecretSource, parse_sources

if TYPE_CHECKING:  # set-up and the providers read settings: no roster model, no SDK (0.3 s of imports)
    import pulumi

    from openclaw_fleet.roster import User

NAMESPACE = "openclaw-fleet"
TARGETS = ("docker", "fly")
DEFAULT_TARGET = "docker"
DEFAULT_ROSTER = "users/roster.yaml"
DEFAULT_NAME_PREFIX = "openclaw"
DEFAULT_FLY_ORG = "personal"
DEFAULT_FLY_API_URL = "https://api.machines.dev"  # Fly Machines API, https://fly.io/docs/machines/api/
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"  # the local Docker engine's socket
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
TEXTS = (
    "target", "roster", "namePrefix", "registry", "baseImage", "publishHost", "restartPolicy", "flyOrg",
    "flyApiUrl", "dockerHost", "snapshotDir", "autostop",
)  # fmt: skip


def default_snapshot_dir(stack: str) -> str:
    """Where a Docker-target stack writes volume snapshots when ``snapshotDir`` is unset."""
    return str(Path.home() / ".local/share/openclaw-fleet/snapshots" / stack)


@dataclass(frozen=True)
class StackSettings:
    """Settings of one stack (``stack`` of ``project``), defaults filled in."""

    stack: str
    project: str
    target: str
    roster: str
    name_prefix: str
    registry: str | None
    base_image: str
    publish_host: str | None
    health_timeout_s: int
    pids_limit: int
    restart_policy: str
    fly_org: str
    fly_api_url: str
    docker_host: str
    volume_size_gb: int
    mass_deletion_share: float
    mass_deletion_minimum: int
    snapshot_dir: str | None  # None: default_snapshot_dir of each stack
    shards: int
    snapshot_retention_days: int = 5
    autostop: str = "off"
    secret_sources: dict[str, SecretSource] = field(default_factory=dict)

    @property
    def stack_label(self) -> str:
        """``<project>/<stack>``: the label and metadata that mark a container or machine as this stack's."""
        return f"{self.project}/{self.stack}"

    def snapshots_of(self, stack: str) -> str:
        """Where ``stack`` (a shard of this one) writes Docker volume snapshots."""
        return self.snapshot_dir or default_snapshot_dir(stack)

    @classmethod
    def parse(cls, config: Mapping[str, object], stack: str, project: str, where: str) -> StackSettings:
        """The settings from ``config`` (key without namespace → value as YAML or ``pulumi.Config``
        give it: numbers as numbers or text). Raises SettingsError naming ``where`` and the key
        (never the value: a mistyped secret must not reach a log)."""

        def text(key: str, default: str | None = None) -> str | None:
            value = config.get(key)
            if value is None or value == "":
                return default
            if not isinstance(value, str):
                raise SettingsError(f"{where}: {NAMESPACE}:{key} must be text")
            return value

        def number_of(key: str):
            try:
                return number(key, config.get(key))
            except ValueError as error:
                raise SettingsError(f"{where}: {error}") from None

        target = text("target", DEFAULT_TARGET)
        if target not in TARGETS:
            raise SettingsError(f"{where}: {NAMESPACE}:target must be one of {', '.join(TARGETS)}")
        name_prefix = text("namePrefix", DEFAULT_NAME_PREFIX)
        if not NAME_PREFIX.match(name_prefix):
            raise SettingsError(
                f"{where}: {NAMESPACE}:namePrefix must be 1 to 47 lowercase letters, digits and dashes, starting "
                "with a letter and not ending with a dash (it starts every app, container and volume name)"
            )
        autostop = text("autostop", "off")
        if autostop not in AUTOSTOP:
            raise SettingsError(f"{where}: {NAMESPACE}:autostop must be one of {', '.join(AUTOSTOP)}")
        try:
            sources = parse_sources(config.get(SOURCES_SETTING), where)
        except ValueError as error:
            raise SettingsError(str(error)) from None
        return cls(
            stack=stack,
            project=project,
            target=target,
            roster=text("roster", DEFAULT_ROSTER),
            name_prefix=name_prefix,
            registry=text("registry"),
            base_image=text("baseImage", "node:24-bookworm-slim"),
            publish_host=text("publishHost"),
            health_timeout_s=number_of("healthTimeoutSeconds"),
            pids_limit=number_of("pidsLimit"),
            restart_policy=text("restartPolicy", "unless-stopped"),
            fly_org=text("flyOrg", DEFAULT_FLY_ORG),
            fly_api_url=text("flyApiUrl", DEFAULT_FLY_API_URL),
            docker_host=text("dockerHost", DEFAULT_DOCKER_HOST),
            volume_size_gb=number_of("volumeSizeGb"),
            mass_deletion_share=number_of("massDeletionShare"),
            mass_deletion_minimum=number_of("massDeletionMinimum"),
            snapshot_dir=text("snapshotDir"),
            shards=number_of("shards"),
            snapshot_retention_days=number_of("snapshotRetentionDays"),
            autostop=autostop,
            secret_sources=sources,
        )

    @classmethod
    def load(cls) -> StackSettings:
        """Inside a Pulumi program: the running stack's settings. Raises pulumi.RunError naming the
        key on a bad or missing value (``registry`` is required there: the image is pushed to it)."""
        import pulumi

        config = pulumi.Config(NAMESPACE)
        raw: dict[str, object] = {key: config.get(key) for key in (*TEXTS, *NUMBERS)}
        where = f"Pulumi.{pulumi.get_stack()}.yaml"
        try:
            raw[SOURCES_SETTING] = config.get_object(SOURCES_SETTING)
            settings = cls.parse(raw, pulumi.get_stack(), pulumi.get_project(), where)
        except (SettingsError, ValueError) as error:
            raise pulumi.RunError(str(error)) from None
        if not settings.registry:
            raise pulumi.RunError(f"{where}: {NAMESPACE}:registry is required: the registry the image is pushed to")
        refusal = base_image_refusal(settings.target, settings.fly_api_url, settings.base_image)
        if refusal:
            raise pulumi.RunError(f"{where}: {refusal}")
        return settings

    @classmethod
    def read(cls, root: Path, stack: str) -> tuple[StackSettings, str]:
        """Outside a program: the settings of ``root/Pulumi.<stack>.yaml`` and that file's text.
        A file that imports Pulumi ESC environments (``environment:``) is read through Pulumi
        (``pulumi config --json``), which resolves them, so their values count as the program sees
        them. Raises SettingsError naming the file, and the key of a bad value."""
        path = root / f"Pulumi.{stack}.yaml"
        try:
            project = yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]
            text = path.read_text()
        except (OSError, yaml.YAMLError, KeyError, TypeError) as error:
            raise SettingsError(f"{path}: cannot read the stack's settings: {error}") from None
        if _stack_document(text, str(path)).get("environment"):
            own = _own(_resolved_by_pulumi(root, stack, path))
            return cls.parse(own, stack, project, str(path)), text
        return cls.from_text(text, stack, project, str(path)), text

    @classmethod
    def from_text(cls, text: str, stack: str, project: str, where: str) -> StackSettings:
        """The settings of a stack file's ``text`` as written (values an ESC ``environment:``
        would import are not resolved): for a stack file read from git, as data. Raises
        SettingsError naming ``where``."""
        config = _stack_document(text, where).get("config") or {}
        if not isinstance(config, dict):
            raise SettingsError(f"{where}: `config` must be a mapping")
        return cls.parse(_own(config), stack, project, where)


def _stack_document(text: str, where: str) -> dict:
    """A stack file's YAML with every scalar as text, as ``pulumi.Config`` gives it to the
    program (``off`` stays ``off``). Raises SettingsError naming ``where``."""
    try:
        document = yaml.load(text, Loader=yaml.BaseLoader) or {}
    except yaml.YAMLError as error:
        raise SettingsError(f"{where}: cannot read the stack's settings: {error}") from None
    if not isinstance(document, dict):
        raise SettingsError(f"{where}: a stack file must be a mapping")
    return document


def _own(config: Mapping[str, object]) -> dict[str, object]:
    """The ``openclaw-fleet:`` keys of a stack's config, without the namespace."""
    prefix = f"{NAMESPACE}:"
    return {key.removeprefix(prefix): value for key, value in config.items() if key.startswith(prefix)}


def from_pulumi_config(document: dict[str, dict]) -> dict[str, object]:
    """``pulumi config --json`` (key → {value, objectValue, secret}) as key → value; a secret
    shown as none (the settings read here hold no secret)."""
    return {key: entry.get("objectValue", entry.get("value")) for key, entry in document.items()}


def _resolved_by_pulumi(root: Path, stack: str, path: Path) -> dict[str, object]:
    """The stack's config as Pulumi resolves it (ESC environments included). Raises SettingsError
    with the CLI's last line when it cannot be read."""
    try:
        result = subprocess.run(
            ["pulumi", "config", "--json", "--stack", stack], cwd=root, capture_output=True, text=True, timeout=300
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SettingsError(f"{path}: its environment is resolved by `pulumi config`, which failed: {error}") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise SettingsError(f"{path}: its environment is resolved by `pulumi config`, which failed: {last}")
    try:
        return from_pulumi_config(json.loads(result.stdout or "{}"))
    except (ValueError, AttributeError) as error:
        raise SettingsError(f"{path}: `pulumi config --json` answered what is not its JSON: {error}") from None


def number(key: str, raw: object):
    """A numeric setting (``NUMBERS``) from its raw config value: the default when unset (None),
    else the value as set (0 stays 0) within its range. Raises ValueError naming the key and the
    range, never the value (a mistyped secret must not reach a log)."""
    default, low, high, kind = NUMBERS[key]
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{NAMESPACE}:{key} must be a {'whole ' if kind is int else ''}number") from None
    if not low <= value <= high:
        raise ValueError(f"{NAMESPACE}:{key} must be between {low} and {high}")
    return value


def provider_key_values(user: User, sources: dict[str, SecretSource]) -> dict[str, pulumi.Output[str]]:
    """Resolve a user's provider keys through the stack's declared secret sources to secret Outputs.

    A ``config`` source reads the stack config secret ``openclaw-fleet:<key>``; an ``env`` source
    the environment of the process running Pulumi. The references were checked against the
    declarations when the roster was read (``secret_sources.check_references``). Raises
    pulumi.RunError naming the user, the key and the source (never a value) when a source has no
    value.
    """
    import pulumi

    config = pulumi.Config(NAMESPACE)
    values = {}
    for name, source_name in user.provider_keys.items():
        source = sources[source_name]
        key = source.key
        value = config.get_secret(key) if source.kind == "config" else os.environ.get(key)
        if value is None:
            where = f"stack config {NAMESPACE}:{key}" if source.kind == "config" else f"environment variable {key}"
            raise pulumi.RunError(
                f"roster line {user.key_lines.get(name, user.line)}: user {user.id}: providerKeys.{name} names secret "
                f"source {source_name}, which reads {where}, which is not set"
            )
        values[name] = pulumi.Output.secret(value)
    return values
