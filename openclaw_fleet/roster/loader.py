"""Read a roster file: YAML in, validated users out, or every problem as ``file:line: field: message``.

Line numbers come from PyYAML's node marks. Messages never repeat a value from the file (a
mistyped secret must not reach a log) nor a key that does not look like a field name (a key
pasted where a name belongs). What is read is bounded, so no file can make the loader slow or
crash it: at most ``MAX_BYTES`` of UTF-8, ``MAX_DEPTH`` levels of nesting and ``MAX_VALUES``
values once YAML aliases are expanded (an "alias bomb" of a few lines expands to billions).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from pydantic import ValidationError

from openclaw_fleet.errors import RosterError
from openclaw_fleet.roster.model import EXTRA_ENV_NAMES, FLY_REGIONS, PROVIDER_KEY_NAMES, Roster, User, resolve_size
from openclaw_fleet.roster.naming import short_id

MAX_BYTES = 4 * 1024 * 1024  # ~25,000 users
MAX_DEPTH = 16  # a roster needs 5: users → user → env → name → value
MAX_VALUES = 500_000
# libyaml when PyYAML has it (the wheels do): the pure-Python parser takes seconds on a large file.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")


def load_roster(path: str | Path) -> list[User]:
    """Read and validate a roster file; return its users in file order.

    Raises RosterError (file, line and field of every problem) for a missing or unreadable file,
    one over the bounds above, YAML syntax errors, unknown keys, wrong types, values out of range,
    disallowed env names, plaintext keys, and two users sharing an id or a short id. Reads the
    file only; changes nothing.
    """
    path = Path(path)
    root, data = _read_yaml(path)
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
        try:
            size, memory_mb = resolve_size(entry.size or d.size, entry.memory_mb or d.memory_mb)
        except ValueError as error:
            field = "memoryMb" if entry.memory_mb or not entry.size else "size"
            where = ("users", index, field) if entry.memory_mb or entry.size else ("defaults", "memoryMb")
            message = f"{path}:{_line_of(root, where)}: {_field_path(where)}: {error}"
            problems += [message] if message not in problems else []
            continue
        users.append(
            User(
                id=entry.id,
                name=entry.name,
                short_id=short_id(entry.id),
                state=entry.state or d.state,
                region=entry.region or d.region,
                size=size,
                memory_mb=memory_mb,
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
                key_lines={
                    name: _line_of(root, ("users", index, "providerKeys", name))
                    if name in (entry.provider_keys or {})
                    else _line_of(root, ("defaults", "providerKeys", name))
                    for name in {**d.provider_keys, **(entry.provider_keys or {})}
                },
            )
        )
    if problems:
        raise RosterError(problems)
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


def _read_yaml(path: Path) -> tuple[yaml.Node | None, object]:
    """The file's YAML node tree and data, within the bounds. Raises RosterError."""

    def refuse(line: int, message: str) -> RosterError:
        return RosterError([f"{path}:{line}: roster: {message}"])

    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise refuse(1, "no such file (openclaw-fleet:roster names it)") from None
    except OSError as error:
        raise refuse(1, f"cannot be read: {error.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise refuse(1, f"larger than {MAX_BYTES // (1024 * 1024)} MiB (about 25,000 users)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse(raw[: error.start].count(b"\n") + 1, "is not UTF-8 text") from None
    try:
        _check_depth(path, text)
        root = yaml.compose(text, Loader=_Loader)
        if root is None:
            return None, {}
        _check_size(path, root)
        data = _Loader("").construct_document(root)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise refuse(mark.line + 1 if mark else 1, f"YAML syntax: {_plain(error.problem or error.context)}") from None
    except yaml.YAMLError as error:  # a character YAML does not allow
        position = getattr(error, "position", 0) or 0
        raise refuse(text[:position].count("\n") + 1, "YAML syntax: a character YAML does not allow") from None
    except RosterError:
        raise
    except RecursionError:
        raise refuse(1, f"nested more than {MAX_DEPTH} levels deep") from None
    except (ValueError, OverflowError, TypeError):  # e.g. a date that does not exist
        raise refuse(1, "a value YAML cannot read (such as a date that does not exist)") from None
    return root, data


def _check_depth(path: Path, text: str) -> None:
    """Raise RosterError at the first collection nested past MAX_DEPTH, reading YAML events one
    at a time (before any tree is built: a tree of 20,000 levels takes seconds to build)."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise RosterError(
                    [f"{path}:{event.start_mark.line + 1}: roster: nested more than {MAX_DEPTH} levels deep"]
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _check_size(path: Path, root: yaml.Node) -> None:
    """Raise RosterError past MAX_VALUES values with aliases expanded.

    Each node's expanded size is counted once (aliases share nodes), so an alias bomb costs as
    little to measure as it took to write.
    """
    sizes: dict[int, int] = {}

    def size(node: yaml.Node) -> int:
        if id(node) not in sizes:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
            if isinstance(node, yaml.MappingNode):
                children = [part for pair in node.value for part in pair]
            sizes[id(node)] = 1 + sum(size(child) for child in children)
            if sizes[id(node)] > MAX_VALUES:
                raise RosterError(
                    [
                        f"{path}:{node.start_mark.line + 1}: roster: more than {MAX_VALUES:,} values once its YAML "
                        "aliases are expanded"
                    ]
                )
        return sizes[id(node)]

    size(root)


def _plain(problem: str | None) -> str:
    """PyYAML's problem text with any quoted part of the file longer than a few characters left out."""
    return re.sub(r"'[^']{5,}'|\"[^\"]{5,}\"", "(…)", problem or "not valid YAML")


def _shown(key: object) -> str:
    """A key as a message may show it: a field-like name as is, anything else not at all."""
    return key if isinstance(key, str) and _NAME.match(key) else "(a key that is not a field name)"


def _duplicate_keys(path: Path, root: yaml.Node | None) -> list[str]:
    """PyYAML keeps the last of two equal keys silently; a roster must not.

    Walks the node tree without recursion and visits each node once: aliases share nodes, so a
    chain of aliases is as cheap to walk as it was to write, whatever its depth."""
    problems: list[str] = []
    seen_nodes: set[int] = set()
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            keys = set()
            for key, value in node.value:
                if key.value in keys:
                    problems.append(f"{path}:{key.start_mark.line + 1}: {_shown(key.value)}: duplicate key")
                if isinstance(key.value, str):
                    keys.add(key.value)
                children.append(value)
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        stack.extend(reversed(children))
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
        out += f"[{part}]" if isinstance(part, int) else (f".{_shown(part)}" if out else _shown(part))
    return out


# What a field that failed its pattern expects, in words (pydantic would print the regex).
_EXPECTED = {
    "id": "must be a Clerk user id: `user_` then letters and digits, such as user_2abc123def456",
    "whatsappOwner": "must be an E.164 phone number: + and the country code, such as +15551234567",
    "model": "must be `provider/model`, such as anthropic/claude-sonnet-4-5",
    "telegramPairings": "must be a pairing code of 4 to 32 letters, digits or dashes",
}


def _message(err: dict) -> str:
    loc, kind = err["loc"], err["type"]
    fields = [part for part in loc if isinstance(part, str)]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error" and loc[-1] == "[key]":
        allowed = PROVIDER_KEY_NAMES if "providerKeys" in loc else EXTRA_ENV_NAMES
        return f"{_shown(loc[-2])} is not an allowed name (allowed: {', '.join(allowed)})"
    if kind == "literal_error" and "region" in fields:
        return f"not a Fly region (fly.io/docs/reference/regions): one of {', '.join(FLY_REGIONS)}"
    if kind == "string_pattern_mismatch" and "providerKeys" in loc:
        return (
            "must name a secret source the stack declares (openclaw-fleet:secretSources), such as team-anthropic: "
            "1 to 40 lowercase letters, digits and dashes; never the key itself (a `config:`/`env:` reference is "
            "now declared in the stack file, see docs)"
        )
    if kind == "string_pattern_mismatch":
        return next((_EXPECTED[field] for field in reversed(fields) if field in _EXPECTED), "has the wrong form")
    # pydantic's messages say what was expected, never the input, except a value error's own text.
    return err["msg"].removeprefix("Value error, ")
