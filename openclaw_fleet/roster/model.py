"""The roster's model: who gets a gateway, and how it is configured.

A roster file is YAML with a ``defaults`` block and a ``users`` list::

    defaults:
      region: sjc
      size: small
      model: anthropic/claude-sonnet-4-5
    users:
      - id: user_2abc123def456
        name: Ada Lovelace
        providerKeys:
          ANTHROPIC_API_KEY: ada-anthropic   # a secret source the stack declares

Every user entry is the defaults overlaid with the entry's own fields (``User``, made by
``loader.load_roster``). The pydantic models here are the single description of a roster field:
validation, defaults, error locations, the JSON Schema and the docs (``docs.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The environment variables OpenClaw reads provider keys and channel tokens from
# (https://docs.openclaw.ai/concepts/model-providers); a roster may set only these.
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

# Machine sizes are Fly's guest size presets (https://fly.io/docs/about/pricing/#machines, `fly platform
# vm-sizes`): name → (cpu_kind, cpus, the preset's memory in MB). The Docker target applies the same
# CPUs and memory as container limits.
FLY_SIZES: dict[str, tuple[str, int, int]] = {
    "shared-cpu-1x": ("shared", 1, 256),
    "shared-cpu-2x": ("shared", 2, 512),
    "shared-cpu-4x": ("shared", 4, 1024),
    "shared-cpu-8x": ("shared", 8, 2048),
    "performance-1x": ("performance", 1, 2048),
    "performance-2x": ("performance", 2, 4096),
    "performance-4x": ("performance", 4, 8192),
    "performance-8x": ("performance", 8, 16384),
    "performance-16x": ("performance", 16, 32768),
}
# The project's first size names, still accepted: alias → (Fly size, memory MB).
SIZE_ALIASES: dict[str, tuple[str, int]] = {
    "small": ("shared-cpu-1x", 2048),
    "medium": ("shared-cpu-2x", 4096),
    "large": ("performance-2x", 8192),
}
# OpenClaw's Fly guide: "512 MB is too small; 2 GB recommended" (https://docs.openclaw.ai/install/fly).
# A Fly size named without `memoryMb` gets its preset memory raised to this (within the size's limit).
GATEWAY_MEMORY_MB = 2048


def memory_limits(size: str) -> tuple[int, int]:
    """(lowest, highest) memory in MB Fly allows for a size: 256–2048 MB per shared CPU,
    2048–8192 MB per performance CPU, in steps of 256 MB
    (https://fly.io/docs/machines/guides-examples/machine-sizing/)."""
    kind, cpus, _ = FLY_SIZES[size]
    return (256 * cpus, 2048 * cpus) if kind == "shared" else (2048 * cpus, 8192 * cpus)


def resolve_size(size: str, memory_mb: int | None) -> tuple[str, int]:
    """(Fly size name, memory MB) of a roster ``size`` (a Fly name or an alias) and ``memoryMb``.

    Raises ValueError, in words, when the memory is outside what Fly allows for the size."""
    name, default = SIZE_ALIASES.get(size) or (size, None)
    low, high = memory_limits(name)
    if memory_mb is None:
        return name, default or min(max(FLY_SIZES[name][2], GATEWAY_MEMORY_MB), high)
    if not low <= memory_mb <= high or memory_mb % 256:
        raise ValueError(f"{name} takes {low} to {high} MB in steps of 256 (Fly's limits for the size)")
    return name, memory_mb


def guest(user: User) -> dict[str, Any]:
    """The fly.MachineGuest of a user: ``{"cpu_kind", "cpus", "memory_mb"}``."""
    kind, cpus, _ = FLY_SIZES[user.size]
    return {"cpu_kind": kind, "cpus": cpus, "memory_mb": user.memory_mb}


# Fly's regions as https://fly.io/docs/reference/regions/ lists them (2025; `fly platform regions`
# prints today's). On the Docker target the region is only a label, checked all the same.
FLY_REGIONS = (
    "ams", "arn", "atl", "bog", "bom", "bos", "cdg", "den", "dfw", "ewr", "eze", "fra",
    "gdl", "gig", "gru", "hkg", "iad", "jnb", "lax", "lhr", "mad", "mia", "nrt", "ord",
    "otp", "phx", "qro", "scl", "sea", "sin", "sjc", "syd", "waw", "yul", "yyz",
)  # fmt: skip

# A provider key names a secret source the stack declares (``secret_sources.py``), never a value.
SOURCE_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")

State = Literal["running", "stopped"]
Deprovision = Literal["delete", "retain", "snapshot"]
Size = Literal[tuple(FLY_SIZES) + tuple(SIZE_ALIASES)]
ProviderKeyName = Literal[PROVIDER_KEY_NAMES]
ExtraEnvName = Literal[EXTRA_ENV_NAMES]
SourceName = Annotated[
    str,
    Field(
        pattern=SOURCE_NAME_RE.pattern,
        description="The name of a secret source the stack declares (`openclaw-fleet:secretSources`).",
    ),
]
Region = Annotated[Literal[FLY_REGIONS], Field(description="Fly region code, e.g. `sjc`; a label on Docker.")]
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
    memory_mb: int | None = Field(default=None, alias="memoryMb")
    model: Model = "anthropic/claude-sonnet-4-5"
    provider_keys: dict[ProviderKeyName, SourceName] = Field(default_factory=dict, alias="providerKeys")
    env: dict[ExtraEnvName, str] = Field(default_factory=dict)
    deprovision: Deprovision = "delete"
    adopt: bool = False


class UserEntry(_Strict):
    """One user as written in the roster; unset fields come from `defaults`."""

    id: str = Field(pattern=r"^user_[A-Za-z0-9]+$", description="Clerk user id, `user_…`.")
    name: str = Field(min_length=1, max_length=100, description="Display name.")
    state: State | None = Field(default=None, description="`running` or `stopped` (the volume is kept).")
    region: Region | None = None
    size: Size | None = Field(
        default=None,
        description="Fly guest size (`shared-cpu-1x` … `shared-cpu-8x`, `performance-1x` … `performance-16x`), or "
        "`small` (shared-cpu-1x, 2048 MB), `medium` (shared-cpu-2x, 4096 MB), `large` (performance-2x, 8192 MB).",
    )
    memory_mb: int | None = Field(
        default=None,
        alias="memoryMb",
        description="Memory in MB, a multiple of 256 within Fly's limits for the size; default: the size's "
        "preset memory, at least 2048 MB (OpenClaw's recommendation).",
    )
    model: Model | None = None
    provider_keys: dict[ProviderKeyName, SourceName] | None = Field(
        default=None,
        alias="providerKeys",
        description="Env name → a secret source the stack declares for this user; merged over the defaults' keys.",
    )
    whatsapp_owner: str | None = Field(
        default=None,
        alias="whatsappOwner",
        pattern=r"^\+[1-9][0-9]{6,14}$",
        description="E.164 number (such as +15551234567) allowed to DM the WhatsApp channel: its `allowFrom`.",
    )
    env: dict[ExtraEnvName, str] | None = Field(default=None, description="Extra plain env, merged over defaults.")
    deprovision: Deprovision | None = Field(
        default=None,
        description="When the user leaves the roster: `delete` everything, `retain` the volume, or `snapshot` "
        "it first.",
    )
    telegram_pairings: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{4,32}$")]] = Field(
        default_factory=list,
        alias="telegramPairings",
        description="Telegram pairing codes to approve, each once, one at a time.",
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
        default=0,
        ge=0,
        le=1_000_000,
        alias="tokenRotation",
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
    size: str  # a Fly size name (aliases resolved)
    model: str
    provider_keys: dict[str, str]  # env name → secret source name
    whatsapp_owner: str | None
    env: dict[str, str]
    line: int
    deprovision: str = "delete"
    token_rotation: int = 0
    restore: str | None = None
    telegram_pairings: tuple[str, ...] = ()
    adopt: bool = False
    memory_mb: int = GATEWAY_MEMORY_MB
    key_lines: dict[str, int] = field(default_factory=dict)  # provider key → line it is written on

    def recorded(self, target: str, volume_gb: int) -> dict[str, Any]:
        """What a stack records of the user (its output ``roster_state``) for the next plan to
        compare with: run state, region, size, memory (MB), model, provider keys (env name →
        secret source *name*), the volume size (GB, Fly only), the deprovision policy, and, only where set, what a
        reviewer must see change: ``whatsapp_owner``, plain ``env``, ``telegram_pairings``,
        ``adopt``, ``restore``. No secret is in it."""
        optional = {
            "whatsapp_owner": self.whatsapp_owner,
            "env": dict(sorted(self.env.items())),
            "telegram_pairings": list(self.telegram_pairings),
            "adopt": self.adopt,
            "restore": self.restore,
        }
        return {
            "target": target,
            "state": self.state,
            "region": self.region,
            "size": self.size,
            "memory_mb": self.memory_mb,
            "model": self.model,
            "provider_keys": dict(sorted(self.provider_keys.items())),
            "volume_gb": volume_gb if target == "fly" else None,
            "deprovision": self.deprovision,
            **{key: value for key, value in optional.items() if value},
        }
