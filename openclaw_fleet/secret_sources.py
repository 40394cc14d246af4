"""Secret sources: where roster users' provider keys come from, declared by the stack, not the roster.

A roster names a source (``providerKeys: {ANTHROPIC_API_KEY: team-anthropic}``); the stack file
declares what each name reads and who may name it::

    openclaw-fleet:secretSources:
      team-anthropic:
        config: teamAnthropicKey      # the stack's config secret openclaw-fleet:teamAnthropicKey
      ada-openai:
        env: OPENCLAW_KEY_ADA_OPENAI  # an environment variable of the process running Pulumi
        users: [user_2abc123def456]   # only these users may name it

Why: the roster is edited through pull requests by many people, while the process that runs
Pulumi holds the fleet's own credentials (the Fly token, the state passphrase, the backend's and
the CI's tokens). A roster that could name any variable or config key could send those, or another
user's key, to its author's gateway, and a reviewer would see only a key's name. So the stack
declares what may be read, and even the stack may read only what is set aside for gateways, since
a pull request may change the stack file too: environment variables whose names start with
``ENV_SOURCE_PREFIX`` (an allow-list: a deny-list of credential names always misses one, such as
``NPM_TOKEN`` or ``DATABASE_URL``), and config keys other than the fleet's own settings
(``CREDENTIAL_CONFIG``). The CI templates pass on exactly the variables with that prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from openclaw_fleet.environment import ENV_SOURCE_PREFIX
from openclaw_fleet.errors import RosterError

if TYPE_CHECKING:  # settings (read by set-up and the providers) needs no roster model
    from openclaw_fleet.roster.model import User

SETTING = "secretSources"
SOURCE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_CONFIG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$")

# Config keys of the fleet's own settings: a secret among them (the Fly token, a registry's
# password) belongs to the fleet, and the rest are not provider keys.
CREDENTIAL_CONFIG = frozenset(
    {"flyApiToken", "registryPassword", "registryUsername", "flyApiUrl", "dockerHost", "registry", SETTING}
)


@dataclass(frozen=True)
class SecretSource:
    """One declared source: ``kind`` (``config`` or ``env``), ``key`` (the config key under
    ``openclaw-fleet:`` or the variable's name) and ``users`` (the ids that may name it; None: all)."""

    kind: str
    key: str
    users: tuple[str, ...] | None = None  # sorted: the same text in every process (the plan's digest)

    def allows(self, user_id: str) -> bool:
        return self.users is None or user_id in self.users


def parse_sources(raw: object, where: str) -> dict[str, SecretSource]:
    """The declared sources from the stack setting's value (a mapping, or None when unset).

    ``where`` names the stack file in messages. Raises ValueError naming the file and the
    setting's path (``openclaw-fleet:secretSources.<name>.env``), never a value: for a malformed
    declaration, an env source outside ``ENV_SOURCE_PREFIX`` and a config key of the fleet's own."""
    if raw is None:
        return {}
    prefix = f"{where}: openclaw-fleet:{SETTING}"
    if not isinstance(raw, dict):
        raise ValueError(f"{prefix}: must be a mapping of source names to {{config: KEY}} or {{env: VARIABLE}}")
    sources = {}
    for name, body in raw.items():
        if not isinstance(name, str) or not SOURCE_NAME.match(name):
            raise ValueError(f"{prefix}: a source name must be 1 to 40 lowercase letters, digits and dashes")
        at = f"{prefix}.{name}"
        fields = set(body) if isinstance(body, dict) else set()
        if not isinstance(body, dict) or fields - {"config", "env", "users"} or len({"config", "env"} & fields) != 1:
            raise ValueError(f"{at}: must hold exactly one of `config: KEY` or `env: VARIABLE`, and may hold `users`")
        kind = "config" if "config" in body else "env"
        key = body[kind]
        if not isinstance(key, str) or not (_CONFIG_KEY if kind == "config" else _ENV_NAME).match(key):
            raise ValueError(f"{at}.{kind}: must be a {'config key' if kind == 'config' else 'variable name'}")
        if kind == "env" and not key.startswith(ENV_SOURCE_PREFIX):
            raise ValueError(
                f"{at}.env: must name a variable starting with {ENV_SOURCE_PREFIX}: only those are set aside for "
                "gateways, so no stack file can hand a gateway a credential of the fleet or its CI"
            )
        if kind == "config" and key in CREDENTIAL_CONFIG:
            raise ValueError(f"{at}.config: names one of the fleet's own settings, which no gateway may be given")
        users = body.get("users")
        if users is not None and (not isinstance(users, list) or not all(isinstance(u, str) for u in users)):
            raise ValueError(f"{at}.users: must be a list of user ids")
        sources[name] = SecretSource(kind, key, None if users is None else tuple(sorted(set(users))))
    return sources


def check_references(users: Iterable[User], sources: dict[str, SecretSource], roster: Path, stack_file: str) -> None:
    """Raise RosterError (file:line: field: problem, one line per reference) when a user names a
    source the stack does not declare, or one declared for other users only. Names no value."""
    problems = []
    for user in users:
        for env_name, source_name in sorted(user.provider_keys.items()):
            where = f"{roster}:{user.key_lines.get(env_name, user.line)}: users.{user.id}.providerKeys.{env_name}"
            source = sources.get(source_name)
            if source is None:
                declared = f"{stack_file} does not declare (openclaw-fleet:{SETTING})"
                problems.append(f"{where}: names a secret source that {declared}")
            elif not source.allows(user.id):
                problems.append(f"{where}: names a secret source that {stack_file} declares for other users only")
    if problems:
        raise RosterError(problems)


def sources_of(user: User, sources: dict[str, SecretSource]) -> dict[str, str]:
    """Provider key name → where its value comes from, in words a reviewer reads
    (``team-anthropic (config teamAnthropicKey)``); the value never."""
    return {name: describe_source(source, sources) for name, source in sorted(user.provider_keys.items())}


def describe_source(name: str, sources: dict[str, SecretSource]) -> str:
    """A source by name with what it reads (``team-anthropic (config teamAnthropicKey)``), or the
    name alone when ``sources`` does not declare it."""
    source = sources.get(name)
    return f"{name} ({source.kind} {source.key})" if source else name
