"""The roster: who gets a gateway, and how it is configured.

A roster file is YAML with a ``defaults`` block and a ``users`` list::

    defaults:
      region: sjc
      size: small
      model: anthropic/claude-sonnet-4-5
    users:
      - id: user_2abc123def456
        name: Ada Lovelace
        providerKeys:
          ANTHROPIC_API_KEY: config:anthropicKeyAda

Every user entry is the defaults overlaid with the entry's own fields. The pydantic models here
are the single description of a roster field: validation, defaults, error locations and the JSON
Schema (``python -m components.roster --schema``, committed as ``users/roster.schema.json``).

Errors: ``load_roster`` raises ``RosterError`` listing every problem as ``file:line: field: message``
and never echoes a field's value (a mistyped secret must not reach a log).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from components.naming import short_id

# Seed 003 ("LLM Provider Key Support"): the environment variables a user may hold provider keys in.
PROVIDER_KEY_NAMES = (
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_OAUTH_TOKEN",
    "GEMINI_API_KEY",
    "OPENROUTER_API_KEY",
    "ZAI_API_KEY",
    "QWEN_API_KEY",
    "AI_GATEWAY_API_KEY",
    "MINIMAX_API_KEY",
    "SYNTHETIC_API_KEY",
    "DEEPGRAM_API_KEY",
    "TELEGRAM_BOT_TOKEN",
    "DISCORD_BOT_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
)

# Plain (non-secret) environment a roster may add. Everything the gateway needs to run
# (token, state dir, bind flags) is set by the fleet and cannot be overridden here.
EXTRA_ENV_NAMES = ("TZ", "LANG", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")

# Machine sizes: Fly guest fields; the Docker target applies the same CPU and memory as limits.
# `small` is seed 000's production guest (shared-cpu-1x, 2 GB).
SIZE_PRESETS: dict[str, dict[str, Any]] = {
    "small": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 2048},
    "medium": {"cpu_kind": "shared", "cpus": 2, "memory_mb": 4096},
    "large": {"cpu_kind": "performance", "cpus": 2, "memory_mb": 8192},
}

SECRET_REF_RE = re.compile(r"^(config|env):[A-Za-z_][A-Za-z0-9_.-]*$")

State = Literal["running", "stopped"]
Deprovision = Literal["delete", "retain", "snapshot"]
Size = Literal["small", "medium", "large"]
ProviderKeyName = Literal[PROVIDER_KEY_NAMES]
ExtraEnvName = Literal[EXTRA_ENV_NAMES]
SecretRef = Annotated[
    str, Field(pattern=SECRET_REF_RE.pattern, description="`config:<stack config key>` or `env:<VARIABLE>`.")
]
Region = Annotated[str, Field(pattern=r"^[a-z]{3}$", description="Fly region code, e.g. `sjc`; a label on Docker.")]
Model = Annotated[
    str,
    Field(
        pattern=r"^[a-z0-9][a-z0-9-]*/\S+$",
        description="Default model as `provider/model`, e.g. `anthropic/claude-sonnet-4-5`.",
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)



class Defaults(_Strict):
    """Fields every user inherits unless the user entry sets them."""

    state: State = "running"
    region: Region = "sjc"
    size: Size = "small"
    model: Model = "anthropic/claude-sonnet-4-5"
    provider_keys: dict[ProviderKeyName, SecretRef] = Field(default_factory=dict, alias="providerKeys")
    env: dict[ExtraEnvName, str] = Field(default_factory=dict)
    deprovision: Deprovision = "delete"
    adopt: bool = False


class UserEntry(_Strict):
    """One user as written in the roster; unset fields come from `defaults`."""

    id: str = Field(pattern=r"^user_[A-Za-z0-9]+$", description="Clerk user id, `user_…`.")
    name: str = Field(min_length=1, max_length=100, description="Display name.")
    state: State | None = Field(default=None, description="`running` or `stopped` (the volume is kept).")
    region: Region | None = None
    size: Size | None = Field(default=None, description="Size preset: `small`, `medium`, `large`.")
    model: Model | None = None
    provider_keys: dict[ProviderKeyName, SecretRef] | None = Field(
        default=None,
        alias="providerKeys",
        description="Env name → `config:<key>` or `env:<VAR>`; merged over the defaults' keys.",
    )
    whatsapp_owner: str | None = Field(
        default=None,
        alias="whatsappOwner",
        pattern=r"^\+[1-9][0-9]{6,14}$",
        description="E.164 number allowed to DM the WhatsApp channel (seed 003's allowFrom).",
    )
    env: dict[ExtraEnvName, str] | None = Field(default=None, description="Extra plain env, merged over defaults.")
    deprovision: Deprovision | None = Field(
        default=None,
        description="When the user leaves the roster: `delete` everything, `retain` the volume, or `snapshot` "
                    "it first (seed 002).",
    )
    telegram_pairings: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{4,32}$")]] = Field(
        default_factory=list, alias="telegramPairings",
        description="Telegram pairing codes to approve, each once, one at a time (seed 002).",
    )
    adopt: bool | None = Field(
        default=None,
        description="Take over what already exists under this user's names (an app, its IPs, volume and "
                    "machine, or a container and its volume) instead of failing; keeps its gateway token.",
    )
    restore: Literal["latest"] | None = Field(
        default=None,
        description="`latest`: a returning user's new volume starts from the latest snapshot taken when they left.",
    )
    token_rotation: int = Field(
        default=0, ge=0, alias="tokenRotation",
        description="Raise by one to replace this user's gateway token (only this user changes).",
    )


class Roster(_Strict):
    """A whole roster file; exists to produce the JSON Schema of the file."""

    defaults: Defaults = Field(default_factory=Defaults)
    users: list[UserEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class User:
    """A resolved user: defaults applied, names derived. All fields are plain values."""

    id: str
    name: str
    short_id: str
    state: str
    region: str
    size: str
    model: str
    provider_keys: dict[str, str]
    whatsapp_owner: str | None
    env: dict[str, str]
    line: int
    deprovision: str = "delete"
    token_rotation: int = 0
    restore: str | None = None
    telegram_pairings: tuple[str, ...] = ()
    adopt: bool = False


class RosterError(ValueError):
    """Raised for an invalid roster; ``problems`` holds one ``file:line: field: message`` per error."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("invalid roster:\n  " + "\n  ".join(problems))


def load_roster(path: str | Path) -> list[User]:
    """Read and validate a roster file; return its users in file order.

    Raises RosterError (file, line and field of every problem) for YAML syntax errors, unknown
    keys, wrong types, disallowed env names, plaintext keys, and two users sharing an id or a
    short id. Reads the file only; changes nothing.
    """
    path = Path(path)
    text = path.read_text()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise RosterError([f"{path}:{line}: YAML syntax: {getattr(exc, 'problem', exc)}"]) from None
    if data is None:
        data, root = {}, None
    problems = _duplicate_keys(path, root)
    if not isinstance(data, dict):
        raise RosterError([f"{path}:1: roster: must be a mapping with `defaults` and `users`"])

    try:
        roster = Roster.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            line = _line_of(root, err["loc"])
            problems.append(f"{path}:{line}: {_field_path(err['loc'])}: {_message(err)}")
        raise RosterError(problems) from None
    if problems:
        raise RosterError(problems)

    users = []
    for index, entry in enumerate(roster.users):
        d = roster.defaults
        users.append(
            User(
                id=entry.id,
                name=entry.name,
                short_id=short_id(entry.id),
                state=entry.state or d.state,
                region=entry.region or d.region,
                size=entry.size or d.size,
                model=entry.model or d.model,
                provider_keys={**d.provider_keys, **(entry.provider_keys or {})},
                whatsapp_owner=entry.whatsapp_owner,
                env={**d.env, **(entry.env or {})},
                line=_line_of(root, ("users", index)),
                deprovision=entry.deprovision or d.deprovision,
                token_rotation=entry.token_rotation,
                restore=entry.restore,
                telegram_pairings=tuple(entry.telegram_pairings),
                adopt=d.adopt if entry.adopt is None else entry.adopt,
            )
        )
    _check_unique(path, users)
    return users


def _check_unique(path: Path, users: list[User]) -> None:
    problems = []
    seen: dict[str, User] = {}
    for user in users:
        for key, label in ((user.id, "id"), (user.short_id, "short id")):
            other = seen.get(label + key)
            if other is not None:
                problems.append(
                    f"{path}:{user.line}: users.{user.id}: {label} {key!r} is also used by "
                    f"{other.id} at line {other.line}; each user needs a distinct short id"
                )
            seen[label + key] = user
    if problems:
        raise RosterError(problems)


def _duplicate_keys(path: Path, node: yaml.Node | None) -> list[str]:
    """PyYAML keeps the last of two equal keys silently; a roster must not."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key, value in node.value:
            if key.value in seen:
                problems.append(f"{path}:{key.start_mark.line + 1}: {key.value}: duplicate key")
            seen.add(key.value)
            problems += _duplicate_keys(path, value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            problems += _duplicate_keys(path, item)
    return problems


def _line_of(node: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the deepest YAML node that `loc` (a pydantic error location) reaches."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                return line
            key, node = match
            line = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _field_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(err: dict) -> str:
    loc, kind = err["loc"], err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error" and loc[-1] == "[key]":
        allowed = PROVIDER_KEY_NAMES if "providerKeys" in loc else EXTRA_ENV_NAMES
        return f"{loc[-2]} is not an allowed name (allowed: {', '.join(allowed)})"
    if kind == "string_pattern_mismatch" and "providerKeys" in loc:
        return "must be a reference `config:<stack config key>` or `env:<VARIABLE>`, never the key itself"
    return err["msg"].removeprefix("Value error, ")


def json_schema() -> dict:
    """JSON Schema (draft 2020-12) of a roster file, for editors and CI."""
    schema = Roster.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "openclaw-fleet roster"
    return schema


def docs_table() -> str:
    """Markdown table of a user entry's fields, from the JSON Schema (so it cannot drift)."""
    entry = json_schema()["$defs"]["UserEntry"]
    defaults = Defaults().model_dump(by_alias=True)
    rows = ["| field | type | default | description |", "| --- | --- | --- | --- |"]
    for key, prop in entry["properties"].items():
        prop = next((p for p in prop.get("anyOf", [prop]) if p.get("type") != "null"), prop)
        if "enum" in prop:
            kind = " \\| ".join(f"`{value}`" for value in prop["enum"])
        elif "pattern" in prop:
            kind = f"string `{prop['pattern']}`"
        elif prop.get("type") == "object":
            kind = "map"
        else:
            kind = prop.get("type", "")
        if key in entry.get("required", []):
            default = "required"
        else:
            default = f"`{defaults[key]}` (`defaults`)" if defaults.get(key) else "unset"
        description = entry["properties"][key].get("description") or prop.get("description", "")
        rows.append(f"| `{key}` | {kind} | {default} | {description} |")
    allowed = ", ".join(f"`{name}`" for name in PROVIDER_KEY_NAMES)
    extra = ", ".join(f"`{name}`" for name in EXTRA_ENV_NAMES)
    return "\n".join(rows) + f"\n\nProvider key names (seed 003): {allowed}.\n\nExtra env names: {extra}.\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--schema"]:
        print(json.dumps(json_schema(), indent=2))
    elif sys.argv[1:] == ["--docs"]:
        print(docs_table(), end="")
    else:
        sys.exit("usage: python -m components.roster --schema | --docs")
