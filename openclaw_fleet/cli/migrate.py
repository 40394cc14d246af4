"""``fleet migrate``: a roster of an earlier release, whose provider keys name ``config:<key>`` or
``env:<VAR>`` themselves, rewritten to name secret sources, with the stack declarations to add.

Since secret sources (``secret_sources.py``) such a roster is refused. This command rewrites each
reference in place (the rest of the file, comments included, stays as it was) into a source
name made from the key (``config:adaAnthropic`` → ``ada-anthropic``), and prints the
``openclaw-fleet:secretSources`` block for the stack file: each source limited to the users that
named it, and an ``env`` source's variable given the ``OPENCLAW_KEY_`` prefix the stack may read
(set that variable in place of the old one). The rewritten roster is loaded before it is written:
nothing is changed unless it loads.
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from openclaw_fleet.environment import ENV_SOURCE_PREFIX
from openclaw_fleet.errors import RosterError
from openclaw_fleet.roster import load_roster
from openclaw_fleet.secret_sources import SETTING

# A former reference as a YAML value: `KEY: config:x`, quoted or not, in a block or a flow mapping.
REFERENCE = re.compile(r"""(?P<quote>["']?)(?P<kind>config|env):(?P<key>[A-Za-z_][A-Za-z0-9_.-]{0,127})(?P=quote)""")
USER_LINE = re.compile(r"""^\s*-?\s*\{?\s*["']?id["']?\s*:\s*["']?(?P<id>[A-Za-z0-9_]+)""")


@dataclass(frozen=True)
class Source:
    """A source made from a former reference: its ``name``, ``kind``, ``key`` (for ``env``: the
    new, prefixed variable), the ``former`` reference and the ``users`` that named it."""

    name: str
    kind: str
    key: str
    former: str
    users: tuple[str, ...]


def source_name(kind: str, key: str, taken: set[str]) -> str:
    """A source name (``SOURCE_NAME``) from a config key or variable: words split at case changes,
    underscores and dots, lowercased, joined by dashes; a number added when ``taken``."""
    base = key.removeprefix(ENV_SOURCE_PREFIX) if kind == "env" else key
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", base).replace("_", "-").replace(".", "-").lower()
    name = re.sub(r"-+", "-", words).strip("-")[:36] or "key"
    name = name if name[0].isalpha() else f"k-{name}"[:36]
    unique, number = name, 2
    while unique in taken:
        unique, number = f"{name}-{number}", number + 1
    return unique


def migrate(text: str) -> tuple[str, list[Source]]:
    """The roster ``text`` with every former reference replaced by a source name, and the sources
    to declare (in order of first use). The user a reference belongs to is the last ``id`` above it."""
    found: dict[str, dict] = {}
    user, lines = None, []
    for line in text.splitlines(keepends=True):
        if match := USER_LINE.match(line):
            user = match["id"]
        code, hash_mark, comment = line.partition("#")  # a reference in a comment stays as it is
        pieces, last = [], 0
        for reference in REFERENCE.finditer(code):
            former = f"{reference['kind']}:{reference['key']}"
            if former not in found:
                name = source_name(reference["kind"], reference["key"], {item["name"] for item in found.values()})
                found[former] = {"name": name, "kind": reference["kind"], "key": reference["key"], "users": []}
            if user and user not in found[former]["users"]:
                found[former]["users"].append(user)
            pieces += [code[last : reference.start()], found[former]["name"]]
            last = reference.end()
        lines.append("".join(pieces) + code[last:] + hash_mark + comment)
    sources = [
        Source(
            item["name"],
            item["kind"],
            item["key"] if item["kind"] == "config" or item["key"].startswith(ENV_SOURCE_PREFIX)
            else f"{ENV_SOURCE_PREFIX}{item['key']}",
            former,
            tuple(sorted(item["users"])),
        )
        for former, item in found.items()
    ]  # fmt: skip
    return "".join(lines), sources


def declarations(sources: list[Source]) -> str:
    """The ``openclaw-fleet:secretSources`` block to add under the stack file's ``config:``."""
    lines = [f"  openclaw-fleet:{SETTING}:"]
    for source in sources:
        renamed = f"; set {source.key} in place of {source.former[4:]}" if source.kind == "env" else ""
        lines.append(f"    {source.name}:  # was {source.former}{renamed}")
        lines.append(f"      {source.kind}: {source.key}")
        if source.users:
            lines.append(f"      users: [{', '.join(source.users)}]")
    return "\n".join(lines) + "\n"


def main(roster: str) -> int:
    """``fleet migrate --roster PATH``: rewrite the roster in place and print the declarations;
    0 when done or nothing to do, 2 when it cannot be read or would not load afterwards."""
    path = Path(roster)
    try:
        text = path.read_text()
    except OSError as error:
        print(f"fleet: migrate: {roster}: {error.strerror}", file=sys.stderr)
        return 2
    migrated, sources = migrate(text)
    if not sources:
        print(f"fleet: migrate: {roster} names no `config:`/`env:` reference; nothing to do", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as folder:  # loaded before anything is written
        trial = Path(folder) / path.name
        trial.write_text(migrated)
        try:
            load_roster(trial)
        except RosterError as error:
            print(f"fleet: migrate: the rewritten roster would not load, nothing written: {error}", file=sys.stderr)
            return 2
    path.write_text(migrated)
    print(f"fleet: migrate: {roster}: {len(sources)} reference(s) now name secret sources", file=sys.stderr)
    print("Add under `config:` in the stack file (Pulumi.<stack>.yaml):", file=sys.stderr)
    sys.stdout.write(declarations(sources))
    return 0
