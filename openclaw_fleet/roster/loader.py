"""Read a roster file: YAML in, validated users out, or every problem as ``file:line: field: message``.

Line numbers come from PyYAML's node marks; messages never echo a field's value (a mistyped
secret must not reach a log).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from openclaw_fleet.errors import RosterError
from openclaw_fleet.roster.model import EXTRA_ENV_NAMES, PROVIDER_KEY_NAMES, Roster, User
from openclaw_fleet.roster.naming import short_id


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
