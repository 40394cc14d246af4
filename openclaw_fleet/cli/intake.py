"""``fleet intake``: take a pull request's data into the default branch's checkout, as data.

The trusted plan workflow checks out the default branch's code (which runs) and, beside it, the
pull request's merge commit (``refs/pull/N/merge``, whose first parent is the base it is compared
with), which never runs. This reads that commit with git as blobs (``trust.GitTree``: a link is
refused, never followed) and says what kind of change it is:

- ``data``: only rosters and stack files (``trust.kind_of_path``) and documentation change, and
  the planned stack file changes only under ``config:``. Such a change is planned by the default
  branch's code with the plan credentials at once: its stack file and roster are written into the
  checkout, nothing else.
- ``code``: anything else (the program, ``bin/``, CI files, requirements, ``image/``,
  ``Pulumi.yaml``, or a stack file's ``environment`` or secrets provider). Its plan runs the pull
  request's own code, so it waits for a maintainer's approval.

The changes of trust (``trust.compare``) are computed here too, by trusted code from data, and
rendered into the plan whichever code computed the rest.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import yaml

from openclaw_fleet.cli.options import IntakeOptions
from openclaw_fleet.cli.trust import GitTree, Trust, compare, kind_of_path
from openclaw_fleet.errors import FleetError
from openclaw_fleet.settings import StackSettings

BASE, HEAD = "HEAD^1", "HEAD"  # in a checkout of refs/pull/N/merge: the base, and the merge
ROSTER_FOLDER = "users"  # a pull request's roster is taken from here only


class IntakeRefused(FleetError):
    """The pull request's data cannot be taken as data (a roster outside ``users/``, a link)."""


@dataclass(frozen=True)
class Intake:
    """What a pull request changes: ``kind`` (``data`` or ``code``), ``changed`` paths, the
    ``code`` ones among them (with why), and the changes of ``trust``."""

    kind: str
    changed: list[str]
    code: list[str]
    trust: Trust


def take(pull_request: Path, stack: str, project: str, into: Path | None = None) -> Intake:
    """Classify the merge commit checked out at ``pull_request`` for stack ``stack`` of
    ``project``; with ``into`` and a ``data`` change, write its stack file and roster there.
    Raises IntakeRefused (or trust.TreeRefused) naming the path that cannot be taken as data."""
    base, head = GitTree(pull_request, BASE), GitTree(pull_request, HEAD)
    changed = head.changed_since(BASE)
    code = [path for path in changed if kind_of_path(path) == "code"]
    stack_file = f"Pulumi.{stack}.yaml"
    head_text = head.read(stack_file)
    if stack_file in changed and _outside_config(base.read(stack_file)) != _outside_config(head_text):
        code.append(f"{stack_file} (outside `config:`: an ESC environment or the secrets provider)")
    trust = replace(compare(base, head, stack, project, changed), code=list(code))
    intake = Intake("code" if code else "data", changed, code, trust)
    if into is not None and intake.kind == "data":
        _write_data(head, head_text or "", StackSettings.from_text(head_text or "", stack, project, stack_file), into)
    return intake


def _outside_config(text: str | None) -> object:
    """A stack file without its ``config:`` (what Pulumi itself acts on), or the text when it
    does not parse (then any change counts)."""
    try:
        document = yaml.safe_load(text or "") or {}
    except yaml.YAMLError:
        return text
    return {key: value for key, value in document.items() if key != "config"} if isinstance(document, dict) else text


def _write_data(head: GitTree, text: str, settings: StackSettings, into: Path) -> None:
    """Write the head's stack file (``text``) and the roster its ``settings`` name into ``into``: nothing else."""
    stack_file, roster = f"Pulumi.{settings.stack}.yaml", settings.roster
    parts = PurePosixPath(roster).parts
    if parts[:1] != (ROSTER_FOLDER,) or ".." in parts or len(parts) < 2:
        raise IntakeRefused(
            f"{stack_file}: openclaw-fleet:roster is {roster}: a pull request's roster must be under {ROSTER_FOLDER}/, "
            "where the plan workflow takes data from"
        )
    roster_text = head.read(roster)
    if roster_text is None:
        raise IntakeRefused(f"the pull request has no roster at {roster}")
    (into / stack_file).write_text(text)
    (into / roster).parent.mkdir(parents=True, exist_ok=True)
    (into / roster).write_text(roster_text)


def main(options: IntakeOptions) -> int:
    """``fleet intake``: print the kind and the code paths; write ``--trust`` (JSON) and, with
    ``--github-output``, ``kind=…`` for the workflow. Exit 2 naming what cannot be taken."""
    project = yaml.safe_load((Path.cwd() / "Pulumi.yaml").read_text())["name"]
    into = Path.cwd() if options.take else None
    try:
        intake = take(Path(options.pull_request), options.stack, project, into)
    except FleetError as error:
        print(f"fleet: intake: {error}", file=sys.stderr)
        return 2
    if options.trust:
        Path(options.trust).write_text(json.dumps(intake.trust.as_document(), indent=2) + "\n")
    if options.github_output:
        with open(options.github_output, "a") as output:
            output.write(f"kind={intake.kind}\n")
    print(f"fleet: intake: a {intake.kind} change of {len(intake.changed)} path(s)")
    for path in intake.code:
        print(f"  code: {path}")
    return 0
