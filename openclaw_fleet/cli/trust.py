"""What a change to the fleet's files does to trust, in plain words: the plan's "Trust" section.

A pull request can change who gets which secret (a secret source re-pointed or widened in the
stack file, a user naming another source), which image every gateway runs (``baseImage``, the
OpenClaw version), which host receives a credential (``flyApiUrl``, ``dockerHost``,
``registry``), and code that runs with the CI's credentials. Many of these change no resource
(a re-pointed source keeps the key's name, so the engine plans only "update AppSecrets"), so
they are compared here from the two trees' files, read as data: the base's and the head's stack
file, roster and Dockerfile, and the paths the change touches. Nothing from either tree is run.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Protocol

from openclaw_fleet.errors import FleetError
from openclaw_fleet.roster import User, load_roster
from openclaw_fleet.secret_sources import SecretSource, sources_of
from openclaw_fleet.settings import NAMESPACE, StackSettings

# Settings that decide which image every gateway runs and which host receives a credential or
# a user's data; a change of any of them is a change of trust (attribute, key in the stack file).
TRUST_SETTINGS = (
    ("target", "target"), ("base_image", "baseImage"), ("registry", "registry"), ("fly_api_url", "flyApiUrl"),
    ("docker_host", "dockerHost"), ("fly_org", "flyOrg"), ("name_prefix", "namePrefix"), ("shards", "shards"),
    ("roster", "roster"), ("publish_host", "publishHost"),
)  # fmt: skip
DOCKERFILE = "image/Dockerfile"
_VERSION = re.compile(r"^\s*ARG\s+OPENCLAW_VERSION=(\S+)", re.M)
# Paths that are read as data (never run) when a pull request is planned by the default
# branch's code; documentation is never run either. Every other path is code.
DATA_PATTERNS = ("users/*", "Pulumi.*.yaml")
DOCS_PATTERNS = ("docs/*", "*.md")


class TreeRefused(FleetError):
    """A file of a tree cannot be read as data: a link, a submodule, or git failed."""


class Tree(Protocol):
    """Files of one version of the repository, by path relative to its root."""

    def read(self, path: str) -> str | None:
        """The file's text, or None when there is none. Raises TreeRefused for what is not a file."""


@dataclass(frozen=True)
class GitTree:
    """The files of commit ``rev`` of the git repository at ``repo``, read as blobs: a link is
    refused, never followed (a link in a pull request could name a file of the runner), and
    nothing of the repository's own configuration runs (no filters, hooks or text conversion)."""

    repo: Path
    rev: str

    def read(self, path: str) -> str | None:
        listed = _git(self.repo, "ls-tree", "-z", self.rev, "--", path).split("\0")[0]
        if not listed:
            return None
        mode, kind, blob = listed.split("\t", 1)[0].split()
        if kind != "blob" or mode not in ("100644", "100755"):
            raise TreeRefused(f"{path} at {self.rev[:12]} is a link or a submodule, not a file: it is not read")
        return _git(self.repo, "cat-file", "blob", blob)

    def changed_since(self, base: str) -> list[str]:
        """The paths that differ between commit ``base`` and this tree's commit."""
        return sorted(
            filter(None, _git(self.repo, "diff", "--no-renames", "--name-only", "-z", base, self.rev).split("\0"))
        )


@dataclass(frozen=True)
class FolderTree:
    """The files of a working tree, as they are now (a local preview against a git revision)."""

    root: Path

    def read(self, path: str) -> str | None:
        file = self.root / path
        return file.read_text() if file.is_file() else None


def _git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "core.fsmonitor=false", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=120,
    )
    if result.returncode != 0:
        raise TreeRefused(f"git {args[0]} in {repo} failed: {(result.stderr.strip().splitlines() or ['?'])[-1][:300]}")
    return result.stdout


def against_revision(root: Path, rev: str, stack: str, project: str) -> Trust:
    """The changes of trust from git revision ``rev`` to the working tree at ``root`` (a local
    preview, or a GitLab merge request against ``CI_MERGE_REQUEST_DIFF_BASE_SHA``). Raises
    TreeRefused when git cannot read ``rev``."""
    changed = sorted(filter(None, _git(root, "diff", "--no-renames", "--name-only", "-z", rev, "--").split("\0")))
    return compare(GitTree(root, rev), FolderTree(root), stack, project, changed)


def kind_of_path(path: str) -> str:
    """``data`` (a roster or stack file: read, never run), ``docs`` or ``code`` (anything else,
    which runs: the program, ``bin/``, CI files, requirements, ``image/``)."""
    if path != "Pulumi.yaml" and any(fnmatch(path, pattern) for pattern in DATA_PATTERNS):
        return "data"
    if any(fnmatch(path, pattern) for pattern in DOCS_PATTERNS) and not path.startswith("users/"):
        return "docs"
    return "code"


@dataclass(frozen=True)
class Trust:
    """The changes of trust between two trees, each a sentence: ``sources`` (secret sources
    declared, removed, re-pointed, widened), ``keys`` (users who gain or lose a provider key or
    whose key is read from another place), ``settings`` (image, OpenClaw version, hosts, names),
    ``code`` (paths that run), ``notes`` (what could not be compared, and why)."""

    sources: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    SECTIONS = ("sources", "keys", "settings", "code", "notes")

    def changes(self) -> int:
        """How many changes of trust there are (notes do not count)."""
        return len(self.sources) + len(self.keys) + len(self.settings) + len(self.code)

    def as_document(self) -> dict[str, list[str]]:
        return {section: list(getattr(self, section)) for section in self.SECTIONS}

    @classmethod
    def from_document(cls, raw: object, most: int = 10_000) -> Trust:
        """A Trust from ``as_document``'s shape, read as untrusted data: lists of text only, at
        most ``most`` sentences a section. Raises ValueError on any other shape."""
        if not isinstance(raw, dict):
            raise ValueError("the trust document is not a mapping")
        sections = {}
        for section in cls.SECTIONS:
            items = raw.get(section) or []
            if not isinstance(items, list):
                raise ValueError(f"trust.{section} is not a list")
            sections[section] = [str(item) for item in items[:most]]
        return cls(**sections)


def compare(base: Tree, head: Tree, stack: str, project: str, changed: Iterable[str]) -> Trust:
    """The changes of trust from ``base`` to ``head`` for stack ``stack`` of ``project``, given the
    ``changed`` paths. What cannot be read on one side (a stack file that does not parse, a roster
    of an older format) is said in ``notes`` and the rest is still compared."""
    notes: list[str] = []
    stack_file = f"Pulumi.{stack}.yaml"
    before, after = (
        _settings(tree, stack_file, stack, project, notes, side) for side, tree in (("base", base), ("head", head))
    )
    sources, keys, settings = [], [], []
    if before and after:
        sources = _source_changes(before.secret_sources, after.secret_sources)
        for attribute, key in TRUST_SETTINGS:
            old, new = getattr(before, attribute), getattr(after, attribute)
            if old != new:
                settings.append(f"{NAMESPACE}:{key} {old if old is not None else '(unset)'} → {new}")
    if after:
        keys = _key_changes(
            _keys_by_user(base, before, notes, "base") if before else {},
            _keys_by_user(head, after, notes, "head"),
        )
    versions = [_openclaw_version(tree.read(DOCKERFILE)) for tree in (base, head)]
    if versions[0] != versions[1]:
        settings.append(f"OpenClaw version {versions[0] or '(none)'} → {versions[1] or '(none)'} ({DOCKERFILE})")
    code = [path for path in changed if kind_of_path(path) == "code"]
    return Trust(sources=sources, keys=keys, settings=settings, code=code, notes=notes)


def _settings(
    tree: Tree, stack_file: str, stack: str, project: str, notes: list[str], side: str
) -> StackSettings | None:
    try:
        text = tree.read(stack_file)
        if text is None:
            notes.append(f"the {side} has no {stack_file}")
            return None
        return StackSettings.from_text(text, stack, project, f"{stack_file} ({side})")
    except FleetError as error:
        notes.append(f"the {side}'s stack file cannot be read: {error}")
        return None


def _who(source: SecretSource) -> str:
    return "every user" if source.users is None else f"users {', '.join(sorted(source.users)) or '(none)'}"


def _source_changes(old: dict[str, SecretSource], new: dict[str, SecretSource]) -> list[str]:
    """Secret sources added, removed, re-pointed (kind, key) or given to other users."""
    words = []
    for name in sorted(set(old) | set(new)):
        was, now = old.get(name), new.get(name)
        if was is None:
            words.append(f"secret source {name} added: reads {now.kind} {now.key}, for {_who(now)}")
        elif now is None:
            words.append(f"secret source {name} removed (read {was.kind} {was.key})")
        else:
            if (was.kind, was.key) != (now.kind, now.key):
                words.append(f"secret source {name} re-pointed: {was.kind} {was.key} → {now.kind} {now.key}")
            if was.users != now.users:
                words.append(f"secret source {name} given to {_who(was)} → {_who(now)}")
    return words


def _keys_by_user(tree: Tree, settings: StackSettings, notes: list[str], side: str) -> dict[str, dict[str, str]]:
    """User id → provider key → where its value comes from (``sources_of``), for the roster the
    settings name in ``tree``; {} (with a note) when it cannot be read."""
    users = _roster(tree, settings.roster, notes, side)
    return {user.id: sources_of(user, settings.secret_sources) for user in users}


def _roster(tree: Tree, path: str, notes: list[str], side: str) -> list[User]:
    try:
        text = tree.read(path)
    except FleetError as error:
        notes.append(f"the {side}'s roster cannot be read: {error}")
        return []
    if text is None:
        notes.append(f"the {side} has no roster at {path}")
        return []
    with tempfile.TemporaryDirectory(prefix="fleet-trust-") as folder:
        file = Path(folder) / Path(path).name
        file.write_text(text)
        try:
            return load_roster(file)
        except FleetError as error:
            first = str(error).replace(str(file), path).splitlines()[0][:300]
            notes.append(f"the {side}'s roster cannot be read ({first}); its users' keys are not compared")
            return []


def _key_changes(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]]) -> list[str]:
    """Per user in ``after``: keys gained (a new user's included), lost, or read from elsewhere."""
    words = []
    for user_id in sorted(after):
        old, new = before.get(user_id), after[user_id]
        for key in sorted(new):
            if old is None:
                words.append(f"user {user_id} (new) gets {key} from {new[key]}")
            elif key not in old:
                words.append(f"user {user_id} gains {key} from {new[key]}")
            elif old[key] != new[key]:
                words.append(f"user {user_id}: {key} from {old[key]} → {new[key]}")
        words += [f"user {user_id} loses {key} (was from {old[key]})" for key in sorted(set(old or {}) - set(new))]
    return words


def _openclaw_version(dockerfile: str | None) -> str | None:
    found = _VERSION.search(dockerfile or "")
    return found.group(1) if found else None
