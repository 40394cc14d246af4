"""``fleet``'s entry point: ``main(argv) -> int`` parses the command's typed options
(``options.py``), then runs the command; the exit status is returned, never raised, so the
command is tested in-process (``tests/unit/test_cli_options.py``).

preview | up | rollout | destroy | machines | status   the fleet over all its shards (commands.py)
shards                                             the shard numbers as a JSON list, for a CI job matrix
render [--publish PR]                              the plan comment from a plan document; published on GitHub
intake --pull-request DIR                          take a pull request's roster and stack file as data
check-github                                       the repository settings the trust model relies on
gitlab-note FILE                                   post FILE as the merge request's plan note
adoptable --stack NAME                             what ``adopt: true`` would take over (stack config on stdin)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from openclaw_fleet.cli import adoptable, drift_issue, intake, migrate, repo_settings
from openclaw_fleet.cli.commands import run_command
from openclaw_fleet.cli.comment import render_comment
from openclaw_fleet.cli.github import publish
from openclaw_fleet.cli.notes import post_note
from openclaw_fleet.cli.options import (
    AdoptableOptions,
    CheckGithubOptions,
    DriftIssueOptions,
    GitlabNoteOptions,
    IntakeOptions,
    MigrateOptions,
    RenderOptions,
    ShardsOptions,
    StackOptions,
    parse,
)
from openclaw_fleet.environment import take_key_sources
from openclaw_fleet.errors import FleetError, NoteFailed
from openclaw_fleet.settings import StackSettings


def main(argv: list[str] | None = None) -> int:
    """Run ``fleet`` with ``argv`` (default: the process's arguments); return the exit status
    (docs/operating.md): 2 for bad options before anything runs, 0 for ``--help``."""
    try:
        command, options = parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as stop:  # argparse has said why on stderr
        return int(stop.code or 0)
    take_key_sources()  # before any Pulumi process starts: the CI's key sources, and none of its other secrets
    if isinstance(options, StackOptions):
        return run_command(command, Path.cwd(), options)
    return RUNNERS[type(options)](options)


def shards(options: ShardsOptions) -> int:
    """``fleet shards``: the stack's shard numbers as a JSON list (a CI job matrix)."""
    try:
        count = StackSettings.read(Path.cwd(), options.stack)[0].shards
    except FleetError as error:
        print(f"fleet: {error}", file=sys.stderr)
        return 2
    print(json.dumps(list(range(1, count + 1))))
    return 0


def render(options: RenderOptions) -> int:
    """``fleet render``: the comment; with ``--publish``, published (a check run and the comment)."""
    review = render_comment(options)
    if options.publish:
        try:
            done = publish(Path(options.output).read_text(), review.status, options.publish, options.commit or "")
        except NoteFailed as error:
            print(f"fleet: {error}", file=sys.stderr)
            return 2
        print(f"fleet: plan {done}", file=sys.stderr)
    return 0


def gitlab_note(options: GitlabNoteOptions) -> int:
    """``fleet gitlab-note FILE``: the merge request's one plan note, created or updated."""
    try:
        print(f"fleet: plan note {post_note(Path(options.file))}", file=sys.stderr)
    except NoteFailed as error:
        print(f"fleet: {error}", file=sys.stderr)
        return 2
    return 0


RUNNERS = {
    ShardsOptions: shards,
    RenderOptions: render,
    IntakeOptions: intake.main,
    CheckGithubOptions: lambda options: repo_settings.main(options.repo, options.environment),
    GitlabNoteOptions: gitlab_note,
    AdoptableOptions: lambda options: adoptable.main(options.stack) or 0,
    DriftIssueOptions: lambda options: drift_issue.main(options.status),
    MigrateOptions: lambda options: migrate.main(options.roster),
}
