"""``python -m openclaw_fleet.cli COMMAND``: the ``fleet`` subcommands written in Python.

preview | up | rollout | destroy | machines | status [--stack BASE]   the fleet over all its shards (cli/commands.py)
adoptable --stack NAME                            what ``adopt: true`` would take over (stack config on stdin)
shards --stack BASE                               the shard numbers as a JSON list, for a CI job matrix
render --plan JSON --output MD [--publish PR]     the plan comment from a plan document; published on GitHub
intake --pull-request DIR                         take a pull request's roster and stack file as data
check-github [--repo OWNER/NAME]                  the repository settings the trust model relies on
gitlab-note FILE                                  post FILE as the merge request's plan note (cli/notes.py)
"""

import argparse
import json
import os
import sys
from pathlib import Path

from openclaw_fleet.cli import adoptable, intake, repo_settings
from openclaw_fleet.cli.commands import run_command
from openclaw_fleet.cli.fleet import default_stacks_at_once
from openclaw_fleet.cli.github import publish
from openclaw_fleet.cli.notes import post_note
from openclaw_fleet.cli.report import render_comment
from openclaw_fleet.environment import STACK, take_key_sources
from openclaw_fleet.errors import FleetError, NoteFailed
from openclaw_fleet.settings import StackSettings

parser = argparse.ArgumentParser(prog="fleet", description="openclaw-fleet commands")
commands = parser.add_subparsers(dest="command", required=True)
for name, text in [
    ("preview", "preview every shard; print the fleet's plan by user; refuse a mass deletion"),
    ("up", "preview, then update every shard with changes; name every user that failed"),
    ("rollout", "up, then move users to the image just built in waves, stopping at the first unhealthy gateway"),
    ("destroy", "destroy every shard's resources"),
    ("machines", "one JSON row per user over all shards, for the service's database"),
    ("status", "every user as Fly or Docker report them now, against the plan; exit 1 when any differs"),
]:
    sub = commands.add_parser(name, help=text, description=text)
    sub.add_argument("--stack", default=os.environ.get(STACK, "dev"), help="the base stack")
    sub.add_argument(
        "--stacks-at-once",
        type=int,
        default=default_stacks_at_once(),
        help="shards previewed at once, and shards updated at once beside them (default: the CPU cores this process "
        "may use, at least 2)",
    )
    sub.add_argument("--parallel", type=int, default=32, help="resource operations at once per stack (default 32)")
    if name in ("preview", "up", "rollout"):
        sub.add_argument("--changed", action="store_true", help="skip shards unchanged since their last update")
        sub.add_argument(
            "--create-stacks",
            action="store_true",
            help="in CI, create the stacks that do not exist yet (a first deploy); without it, a missing one is exit 2",
        )
    sub.add_argument("--shard", type=int, help="run only this shard (1..shards), e.g. one per CI job")
    sub.add_argument(
        "--of", type=int, help="with --shard: how many shard jobs the CI runs; refused unless it is the stack's shards"
    )
    if name == "machines":
        sub.add_argument("--show-secrets", action="store_true", help="print gateway tokens")
    elif name == "status":
        sub.add_argument("--json", action="store_true", help="a JSON document (schema in cli/status.py) on stdout")
    else:
        sub.add_argument("--quiet", action="store_true", help="no progress lines while stacks run")
    if name in ("up", "rollout", "destroy"):
        sub.add_argument("--json", action="store_true", help="a JSON document of the run on stdout; the rest on stderr")
    if name == "preview":
        sub.add_argument(
            "--format",
            choices=("text", "markdown", "json"),
            default="text",
            help="markdown or json: the plan for a reviewer (grouped, with costs) on stdout; progress on stderr",
        )
        sub.add_argument("--output", help="write the markdown or json plan to this file instead of stdout")
        sub.add_argument(
            "--trust-base",
            metavar="REV",
            help="open the plan with the changes of trust since this git revision (stack file, roster, image, code)",
        )
    if name == "rollout":
        sub.add_argument("--waves", default="1,5,25", help="wave sizes: a canary, then growing waves (default 1,5,25)")
        sub.add_argument("--back", metavar="USER", help="put this user back on the image they ran before")
    if name == "destroy":
        sub.add_argument("--yes", action="store_true", required=True, help="required: destroy is not undone")
shards_parser = commands.add_parser("shards", help="the stack's shard numbers as a JSON list (a CI job matrix)")
shards_parser.add_argument("--stack", default=os.environ.get(STACK, "dev"), help="the base stack")
render_parser = commands.add_parser(
    "render",
    help="write the plan comment from a plan document (preview --format json), as the default branch's code renders it",
)
render_parser.add_argument("--plan", default="", help="the plan document; missing or unreadable: a failed plan")
render_parser.add_argument("--output", required=True, help="the comment's Markdown file")
render_parser.add_argument("--stack", default=os.environ.get(STACK, "dev"), help="the base stack")
render_parser.add_argument("--conclusion", default="success", help="how the plan job ended (success, failure, …)")
render_parser.add_argument("--commit", help="the commit the plan is of")
render_parser.add_argument("--run-url", help="the plan job's run")
render_parser.add_argument(
    "--trust", help="the changes of trust `fleet intake` wrote (the plan document's are ignored)"
)
render_parser.add_argument("--waiting", metavar="REASON", help="the plan waits for approval: say why, and nothing else")
render_parser.add_argument(
    "--publish", type=int, metavar="PR", help="then publish it on this pull request (a check run and the one comment)"
)
intake_parser = commands.add_parser("intake", help="take a pull request's roster and stack file as data")
intake_parser.add_argument("--pull-request", required=True, help="a checkout of the pull request's merge commit")
intake_parser.add_argument("--stack", default=os.environ.get(STACK, "dev"), help="the base stack")
intake_parser.add_argument("--take", action="store_true", help="write a data change's stack file and roster here")
intake_parser.add_argument("--trust", help="write the changes of trust (JSON) to this file")
intake_parser.add_argument("--github-output", help="append kind=data|code to this file ($GITHUB_OUTPUT)")
note_parser = commands.add_parser("gitlab-note", help="post the plan as the merge request's one plan note")
note_parser.add_argument("file", help="the plan comment (preview --format markdown)")
check_parser = commands.add_parser("check-github", help="the GitHub repository settings the trust model relies on")
check_parser.add_argument("--repo", help="OWNER/NAME (default: GITHUB_REPOSITORY)")
check_parser.add_argument("--environment", default="production", help="the deploy environment (default production)")
adoptable_parser = commands.add_parser("adoptable", help="list what adopt: true would take over, per roster user")
adoptable_parser.add_argument("--stack", required=True, help="the stack whose config comes on stdin")
args = parser.parse_args()
take_key_sources()  # before any Pulumi process starts: the CI's key sources, and none of its other secrets
if args.command == "adoptable":
    adoptable.main(args.stack)
elif args.command == "shards":
    try:
        count = StackSettings.read(Path.cwd(), args.stack)[0].shards
    except FleetError as error:
        sys.exit(f"fleet: {error}")
    print(json.dumps(list(range(1, count + 1))))
elif args.command == "render":
    review = render_comment(args)
    if args.publish:
        try:
            done = publish(Path(args.output).read_text(), review.status, args.publish, args.commit or "")
        except NoteFailed as error:
            sys.exit(f"fleet: {error}")
        print(f"fleet: plan {done}", file=sys.stderr)
elif args.command == "check-github":
    sys.exit(repo_settings.main(args.repo, args.environment))
elif args.command == "intake":
    sys.exit(intake.main(args))
elif args.command == "gitlab-note":
    try:
        print(f"fleet: plan note {post_note(Path(args.file))}", file=sys.stderr)
    except NoteFailed as error:
        sys.exit(f"fleet: {error}")
else:
    sys.exit(run_command(args.command, Path.cwd(), args.stack, args))
