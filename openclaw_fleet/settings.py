"""The stack's settings (``Pulumi.<stack>.yaml``, namespace ``openclaw-fleet``): one pydantic
model, ``StackSettings``, that declares every key once (its type, default, range and meaning).
The program (``StackSettings.load``, through ``pulumi.Config``), the ``fleet`` command
(``StackSettings.read``, from the stack file), set-up and the providers (``number``) all read
it; docs/operating.md's table of keys is generated from it (``python -m openclaw_fleet.settings``).
A number set explicitly is kept as set, 0 included, and checked against its range before
anything is created; an error names the file and the key, never the value. ``flyApiToken`` (a
secret; or ``FLY_API_TOKEN``) and the registry credentials are read by the providers only.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import annotated_types
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from openclaw_fleet.base_image import base_image_refusal
from openclaw_fleet.errors import SettingsError
from openclaw_fleet.secret_sources import SETTING as SOURCES_SETTING
from openclaw_fleet.secret_sources import SecretSource, parse_sources

if TYPE_CHECKING:  # set-up and the providers read settings: no roster model, no SDK (0.3 s of imports)
    import pulumi

    from openclaw_fleet.roster import User

NAMESPACE = "openclaw-fleet"
DEFAULT_FLY_API_URL = "https://api.machines.dev"  # Fly Machines API, https://fly.io/docs/machines/api/
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"  # the local Docker engine's socket
# Instance names are <prefix>-u-<short id, up to 12>; Fly app names stop at 63 characters.
NAME_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,45}[a-z0-9]$|^[a-z]$")


def default_docker_host() -> str:
    """The Docker engine when the stack sets none: ``DOCKER_HOST`` (Docker's own convention), else
    the local socket."""
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def default_snapshot_dir(stack: str) -> str:
    """Where a Docker-target stack writes volume snapshots when ``snapshotDir`` is unset."""
    return str(Path.home() / ".local/share/openclaw-fleet/snapshots" / stack)


def _key(alias: str, description: str, shown: str | None = None, **constraints: Any) -> Any:
    """A stack-file key: its name under ``openclaw-fleet:``, what it means (docs/operating.md) and,
    where the default is not a plain value, how the docs show it."""
    return Field(
        alias=alias, description=description, json_schema_extra={"shown": shown} if shown else None, **constraints
    )


class StackSettings(BaseModel):
    """Settings of one stack (``stack`` of ``project``), defaults filled in."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, arbitrary_types_allowed=True)

    stack: str
    project: str
    target: Literal["docker", "fly"] = _key("target", "where gateways run: `docker` or `fly`", default="docker")
    roster: str = _key("roster", "the roster file", default="users/roster.yaml")
    name_prefix: str = _key(
        "namePrefix",
        "`<prefix>-u-<shortId>`: lowercase letters, digits and dashes, starting with a letter",
        default="openclaw",
    )
    registry: str | None = _key(
        "registry", "`host:port` the gateway image is pushed to", shown="— (required)", default=None
    )
    base_image: str = _key(
        "baseImage",
        "base of the gateway image (Node ≥ 24.16, npm, user `node`); on a stack whose gateways run on Fly.io, pinned "
        "by digest (`name@sha256:…`) from a host in `OPENCLAW_FLEET_BASE_IMAGE_HOSTS` (default `docker.io`)",
        default="node:24-bookworm-slim",
    )
    publish_host: str | None = _key(
        "publishHost",
        "publish each gateway's port 18789 on this host address (dev: `127.0.0.1`); unset: not published",
        shown="unset",
        default=None,
    )
    health_timeout_s: int = _key(
        "healthTimeoutSeconds",
        "how long a gateway may take to answer `/health` (a cold start on a small machine takes minutes)",
        default=240,
        ge=1,
        le=3600,
    )
    rollout_gate: Literal["openclaw", "checks"] = _key(
        "rolloutHealthGate",
        "what a rollout wave must pass: `openclaw` (the checks, then `openclaw health` and the model in each "
        "gateway) or `checks` (the machine's checks or Docker's health only, for an image without the CLI)",
        default="openclaw",
    )
    pids_limit: int = _key("pidsLimit", "per-container process limit", default=512, ge=16, le=1_000_000)
    restart_policy: str = _key("restartPolicy", "Docker restart policy", default="unless-stopped")
    docker_host: str = _key(
        "dockerHost",
        "Docker engine (`unix://` or `tcp://`); unset: `DOCKER_HOST`, as Docker's own client reads it (a CI "
        "job's `docker:dind` service), else the local engine's socket",
        shown=DEFAULT_DOCKER_HOST,
        default_factory=default_docker_host,
    )
    fly_api_url: str = _key(
        "flyApiUrl", "Fly Machines API base URL (the emulator: `http://127.0.0.1:4280`)", default=DEFAULT_FLY_API_URL
    )
    fly_org: str = _key("flyOrg", "org the apps are created in", default="personal")
    volume_size_gb: int = _key(
        "volumeSizeGb", "Fly volume size; growing it extends volumes in place", default=1, ge=1, le=500
    )
    snapshot_dir: str | None = _key(
        "snapshotDir",
        "Docker target: where `snapshot` writes volume tarballs (a path on the Docker host)",
        shown="`~/.local/share/openclaw-fleet/snapshots/<stack>`",
        default=None,
    )
    mass_deletion_share: float = _key(
        "massDeletionShare",
        "the mass-deletion guard: the share of users a run may delete or lose",
        default=0.2,
        ge=0.0,
        le=1.0,
    )
    mass_deletion_minimum: int = _key(
        "massDeletionMinimum",
        "the mass-deletion guard: fewer users than this are never refused",
        default=3,
        ge=0,
        le=1_000_000,
    )
    command_timeout_s: int = _key(
        "commandTimeoutSeconds",
        "deadline of a command inside a gateway (read by the providers)",
        default=300,
        ge=10,
        le=3600,
    )
    shards: int = _key(
        "shards", "how many stacks the roster is split over ([scale.md](scale.md))", default=1, ge=1, le=256
    )
    snapshot_retention_days: int = _key(
        "snapshotRetentionDays",
        "Fly: days a volume's snapshots are kept (Fly's own default), set on each volume in place; a user returning "
        "with `restore: latest` after longer gets a warning that the snapshot may be gone",
        default=5,
        ge=1,
        le=60,
    )
    autostop: Literal["off", "stop", "suspend"] = _key(
        "autostop",
        "Fly: what the proxy does with an idle gateway: `off` (a gateway holds channel connections open), `stop` or "
        "`suspend`",
        default="off",
    )
    secret_sources: dict[str, SecretSource] = _key(
        SOURCES_SETTING,
        "the secret sources rosters may name as provider keys: name → `{config: KEY}` or `{env: OPENCLAW_KEY_…}`, "
        "with `users: [ids]` to limit who may name it "
        "([users/ROSTER.md](../users/ROSTER.md#provider-keys-come-from-secret-sources-the-stack-declares))",
        shown="none",
        default_factory=dict,
    )

    @field_validator("name_prefix")
    @classmethod
    def _name_prefix(cls, value: str) -> str:
        if not NAME_PREFIX.match(value):
            raise ValueError(
                "must be 1 to 47 lowercase letters, digits and dashes, starting with a letter and not ending with a "
                "dash (it starts every app, container and volume name)"
            )
        return value

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
        give it: numbers as numbers or text; unset or empty: the default). Raises SettingsError
        naming ``where`` and the key (never the value: a mistyped secret must not reach a log)."""
        given = {key: value for key, value in config.items() if key in KEYS and value is not None and value != ""}
        try:
            for key, value in given.items():
                if key in NUMBERS:
                    given[key] = number(key, value)
                elif key != SOURCES_SETTING and not isinstance(value, str):
                    raise ValueError(f"{NAMESPACE}:{key} must be text")
            given[SOURCES_SETTING] = parse_sources(given.get(SOURCES_SETTING), where)
        except ValueError as error:
            text = str(error)
            raise SettingsError(text if text.startswith(where) else f"{where}: {text}") from None
        try:
            return cls.model_validate({**given, "stack": stack, "project": project})
        except ValidationError as error:
            problem = error.errors()[0]
            key = cls.model_fields[str(problem["loc"][0])].alias or problem["loc"][0]
            if problem["type"] == "literal_error":
                choices = get_args(cls.model_fields[str(problem["loc"][0])].annotation)
                words = f"must be one of {', '.join(choices)}"
            else:
                words = str(problem.get("ctx", {}).get("error", problem["msg"]))
            raise SettingsError(f"{where}: {NAMESPACE}:{key} {words}") from None

    @classmethod
    def load(cls) -> StackSettings:
        """Inside a Pulumi program: the running stack's settings. Raises pulumi.RunError naming the
        key on a bad or missing value (``registry`` is required there: the image is pushed to it)."""
        import pulumi

        config = pulumi.Config(NAMESPACE)
        raw: dict[str, object] = {key: config.get(key) for key in KEYS if key != SOURCES_SETTING}
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


def _bounds(field: FieldInfo) -> tuple[Any, Any]:
    low = next(item.ge for item in field.metadata if isinstance(item, annotated_types.Ge))
    high = next(item.le for item in field.metadata if isinstance(item, annotated_types.Le))
    return low, high


KEYS = {field.alias: name for name, field in StackSettings.model_fields.items() if field.alias}
"""Every key of the stack file under ``openclaw-fleet:`` → its field."""
NUMBERS = {
    field.alias: (field.default, *_bounds(field), field.annotation)
    for field in StackSettings.model_fields.values()
    if field.annotation in (int, float)
}
"""Numeric keys → (default, lowest, highest, type), as the model declares them."""


def docs_table() -> str:
    """The Markdown table of every key, its default and meaning, as docs/operating.md has it."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    for field in StackSettings.model_fields.values():
        if not field.alias:
            continue
        shown = (field.json_schema_extra or {}).get("shown") or (
            "—" if field.default is PydanticUndefined else f"`{field.default}`"
        )
        if field.annotation in (int, float):
            low, high = _bounds(field)
            shown += f" ({low}–{high})"
        rows.append(f"| `{field.alias}` | {shown} | {field.description} |")
    return "\n".join(rows) + "\n"


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


if __name__ == "__main__":  # python -m openclaw_fleet.settings: the table docs/operating.md holds
    print(docs_table(), end="")
