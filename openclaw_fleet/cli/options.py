"""The ``fleet`` command's options: one frozen dataclass per command, parsed and checked before any
stack runs (a bad value is exit 2 naming the flag, as argparse says it).

``parse(argv)`` returns the command's options object; ``parser()`` is the argparse parser that
``--help`` prints. Values are converted where they are read (``--waves 1,10`` is ``(1, 10)``), so
nothing below the parser checks or re-reads a flag.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from openclaw_fleet.environment import STACK


def positive(text: str) -> int:
    """A whole number ≥ 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def wave_sizes(text: str) -> tuple[str, ...]:
    """``"1,10%,50%,100%"`` → ("1", "10%", "50%", "100%") (argparse type): a canary, then growing
    waves, each a count ≥ 1 or a share of the users to move from 1% to 100%."""
    sizes = tuple(part.strip() for part in text.split(",") if part.strip())
    for size in sizes:
        number = size.removesuffix("%")
        if not number.isdigit() or int(number) < 1 or (size.endswith("%") and int(number) > 100):
            sizes = ()
            break
    if not sizes:
        raise argparse.ArgumentTypeError(
            "--waves takes counts ≥ 1 or shares from 1% to 100%, separated by commas, such as 1,5,25 or 1,10%,100%"
        )
    return sizes


@dataclass(frozen=True)
class StackOptions:
    """What every command over a fleet's shards takes: ``stack`` (the base stack), shards and
    resource operations at once, and ``shard`` of ``of`` (one CI job per shard)."""

    stack: str
    stacks_at_once: int | None  # None: the CPU cores this process may use, at least 2
    parallel: int
    shard: int | None = None
    of: int | None = None
    only_users: tuple[str, ...] = ()  # --user: the users the run touches (none given: every user)

    @property
    def document(self) -> bool:
        """Whether stdout carries a document alone (the rest goes to stderr)."""
        return False


@dataclass(frozen=True)
class PlanOptions(StackOptions):
    """preview, up and rollout: skip unchanged shards, create missing stacks in CI, no progress."""

    changed: bool = False
    create_stacks: bool = False
    quiet: bool = False


@dataclass(frozen=True)
class PreviewOptions(PlanOptions):
    """``fleet preview``: the reviewer's document (``format``) to ``output``, with the changes of
    trust since ``trust_base``."""

    format: str = "text"
    output: str | None = None
    trust_base: str | None = None

    @property
    def document(self) -> bool:
        return self.format != "text"


@dataclass(frozen=True)
class UpOptions(PlanOptions):
    """``fleet up``: with ``json``, the run's document on stdout; with ``refresh``, a guarded
    ``fleet refresh`` first (the repair of drift); ``yes`` is accepted as Pulumi's ``-y``."""

    json: bool = False
    refresh: bool = False
    yes: bool = False

    @property
    def document(self) -> bool:
        return self.json


@dataclass(frozen=True)
class RolloutOptions(UpOptions):
    """``fleet rollout``: the wave sizes (counts or shares), the chosen ``canaries`` (the first
    wave), ``bake`` seconds between waves, at most ``stop_after`` waves this run; or one user
    put ``back`` on their former image, with their pre-upgrade volume snapshot when ``restore``."""

    waves: tuple[str, ...] = ("1", "5", "25")
    canaries: tuple[str, ...] = ()
    bake: int = 0
    stop_after: int | None = None
    back: str | None = None
    restore: bool = False


@dataclass(frozen=True)
class RefreshOptions(StackOptions):
    """``fleet refresh``: with ``json``, the run's document on stdout."""

    quiet: bool = False
    json: bool = False
    yes: bool = False

    @property
    def document(self) -> bool:
        return self.json


@dataclass(frozen=True)
class DestroyOptions(StackOptions):
    """``fleet destroy --yes``."""

    yes: bool = False
    quiet: bool = False
    json: bool = False

    @property
    def document(self) -> bool:
        return self.json


@dataclass(frozen=True)
class MachinesOptions(StackOptions):
    """``fleet machines``: rows with tokens only with ``show_secrets``."""

    show_secrets: bool = False


@dataclass(frozen=True)
class StatusOptions(StackOptions):
    """``fleet status``: with ``json``, the document on stdout."""

    json: bool = False

    @property
    def document(self) -> bool:
        return self.json


@dataclass(frozen=True)
class ShardsOptions:
    stack: str


@dataclass(frozen=True)
class RenderOptions:
    """``fleet render``: the comment from a plan document, written to ``output``, then published."""

    output: str
    stack: str
    plan: str = ""
    conclusion: str = "success"
    commit: str | None = None
    run_url: str | None = None
    trust: str | None = None
    waiting: str | None = None
    publish: int | None = None


@dataclass(frozen=True)
class IntakeOptions:
    """``fleet intake``: a pull request's merge commit at ``pull_request``, taken as data."""

    pull_request: str
    stack: str
    take: bool = False
    trust: str | None = None
    github_output: str | None = None


@dataclass(frozen=True)
class CheckGithubOptions:
    repo: str | None = None
    environment: str = "production"


@dataclass(frozen=True)
class GitlabNoteOptions:
    file: str


@dataclass(frozen=True)
class AdoptableOptions:
    stack: str


@dataclass(frozen=True)
class MigrateOptions:
    """``fleet migrate``: the roster of an earlier release to rewrite."""

    roster: str = "users/roster.yaml"


@dataclass(frozen=True)
class DriftIssueOptions:
    """``fleet drift-issue``: keep the one drift issue as a ``status --json`` document says."""

    status: str


OPTIONS: dict[str, type] = {
    "preview": PreviewOptions,
    "up": UpOptions,
    "rollout": RolloutOptions,
    "refresh": RefreshOptions,
    "destroy": DestroyOptions,
    "machines": MachinesOptions,
    "status": StatusOptions,
    "shards": ShardsOptions,
    "render": RenderOptions,
    "intake": IntakeOptions,
    "check-github": CheckGithubOptions,
    "gitlab-note": GitlabNoteOptions,
    "adoptable": AdoptableOptions,
    "drift-issue": DriftIssueOptions,
    "migrate": MigrateOptions,
}
HELP = {
    "preview": "preview every shard; print the fleet's plan by user; refuse a mass deletion",
    "up": "preview, then update every shard with changes; name every user that failed",
    "rollout": "up, then move users to the image just built in waves, stopping at the first unhealthy gateway",
    "refresh": "read what Fly or Docker hold into every shard's state, refused like up when it would drop many "
    "users' data; `up --refresh` then repairs the drift",
    "destroy": "destroy every shard's resources",
    "machines": "one JSON row per user over all shards, for the service's database",
    "status": "every user as Fly or Docker report them now, against the plan; exit 1 when any differs",
    "shards": "the stack's shard numbers as a JSON list (a CI job matrix)",
    "render": "write the plan comment from a plan document (preview --format json), as the default branch renders it",
    "intake": "take a pull request's roster and stack file as data",
    "check-github": "the GitHub repository settings the trust model relies on",
    "gitlab-note": "post the plan as the merge request's one plan note",
    "adoptable": "list what adopt: true would take over, per roster user",
    "migrate": "rewrite a roster's former config:/env: provider keys into secret sources; print the declarations",
    "drift-issue": "keep one GitHub issue listing the users `status --json` found differing (closed when none)",
}


def parser() -> argparse.ArgumentParser:
    """The ``fleet`` parser: a subcommand each, with only its own flags."""
    top = argparse.ArgumentParser(prog="fleet", description="openclaw-fleet commands")
    commands = top.add_subparsers(dest="command", required=True)
    sub = {name: commands.add_parser(name, help=text, description=text) for name, text in HELP.items()}
    default_stack = os.environ.get(STACK, "dev")
    for name, options in OPTIONS.items():
        if issubclass(options, StackOptions):
            _stack_flags(sub[name], default_stack)
        if issubclass(options, PlanOptions):
            sub[name].add_argument(
                "--changed", action="store_true", help="skip shards unchanged since their last update"
            )
            sub[name].add_argument(
                "--create-stacks",
                action="store_true",
                help="in CI, create the stacks that do not exist yet (a first deploy); else a missing one is exit 2",
            )
        if name in ("preview", "up", "rollout", "refresh", "destroy"):
            sub[name].add_argument("--quiet", action="store_true", help="no progress lines while stacks run")
        if name in ("up", "rollout", "refresh", "destroy", "status"):
            sub[name].add_argument("--json", action="store_true", help="a JSON document on stdout; the rest on stderr")
        if name in ("up", "rollout"):
            sub[name].add_argument(
                "--refresh",
                action="store_true",
                help="refresh every shard first (guarded), then converge: repairs drift",
            )
        if name in ("up", "rollout", "refresh"):
            sub[name].add_argument("-y", "--yes", action="store_true", help="accepted as Pulumi's: fleet never asks")
        if name in ("preview", "up", "rollout", "refresh", "status"):
            sub[name].add_argument(
                "--user",
                dest="only_users",
                action="append",
                default=[],
                metavar="ID",
                help="touch only this user's resources, in whichever shard holds them (repeatable)",
            )
    preview = sub["preview"]
    preview.add_argument(
        "--format",
        choices=("text", "markdown", "json"),
        default="text",
        help="markdown or json: the plan for a reviewer on stdout",
    )
    preview.add_argument("--output", help="write the markdown or json plan to this file instead of stdout")
    preview.add_argument(
        "--trust-base", metavar="REV", help="open the plan with the changes of trust since this git revision"
    )
    rollout = sub["rollout"]
    rollout.add_argument(
        "--waves",
        type=wave_sizes,
        default=("1", "5", "25"),
        help="wave sizes, counts or shares of the users to move; the last repeats (default 1,5,25)",
    )
    rollout.add_argument(
        "--canary",
        dest="canaries",
        action="append",
        default=[],
        metavar="USER",
        help="the first wave is these users (repeatable), e.g. staff accounts",
    )
    rollout.add_argument(
        "--bake", type=int, default=0, metavar="SECONDS", help="after each wave, wait and ask every moved gateway again"
    )
    rollout.add_argument("--stop-after", type=positive, metavar="N", help="move at most N waves this run")
    rollout.add_argument("--back", metavar="USER", help="put this user back on the image they ran before")
    rollout.add_argument("--restore", action="store_true", help="with --back: also their volume's pre-upgrade data")
    sub["destroy"].add_argument(
        "-y", "--yes", action="store_true", required=True, help="required: destroy is not undone"
    )
    sub["machines"].add_argument("--show-secrets", action="store_true", help="print gateway tokens")
    for name in ("shards", "render", "intake", "adoptable"):
        sub[name].add_argument(
            "-s", "--stack", default=default_stack, required=name == "adoptable", help="the base stack"
        )
    render = sub["render"]
    render.add_argument("--plan", default="", help="the plan document; missing or unreadable: a failed plan")
    render.add_argument("--output", required=True, help="the comment's Markdown file")
    render.add_argument("--conclusion", default="success", help="how the plan job ended (success, failure, …)")
    render.add_argument("--commit", help="the commit the plan is of")
    render.add_argument("--run-url", help="the plan job's run")
    render.add_argument("--trust", help="the changes of trust `fleet intake` wrote (the plan document's are ignored)")
    render.add_argument("--waiting", metavar="REASON", help="the plan waits for approval: say why, and nothing else")
    render.add_argument("--publish", type=positive, metavar="PR", help="then publish it on this pull request")
    intake = sub["intake"]
    intake.add_argument("--pull-request", required=True, help="a checkout of the pull request's merge commit")
    intake.add_argument("--take", action="store_true", help="write a data change's stack file and roster here")
    intake.add_argument("--trust", help="write the changes of trust (JSON) to this file")
    intake.add_argument("--github-output", help="append kind=data|code to this file ($GITHUB_OUTPUT)")
    sub["check-github"].add_argument("--repo", help="OWNER/NAME (default: GITHUB_REPOSITORY)")
    sub["check-github"].add_argument("--environment", default="production", help="the deploy environment")
    sub["gitlab-note"].add_argument("file", help="the plan comment (preview --format markdown)")
    sub["drift-issue"].add_argument("--status", required=True, help="the document `fleet status --json` wrote")
    sub["migrate"].add_argument("--roster", default="users/roster.yaml", help="the roster to rewrite in place")
    return top


def _stack_flags(sub: argparse.ArgumentParser, default_stack: str) -> None:
    sub.add_argument("-s", "--stack", default=default_stack, help="the base stack")
    sub.add_argument(
        "--stacks-at-once",
        type=positive,
        default=None,
        help="shards previewed at once, and updated at once beside them (default: this process's CPU cores, ≥ 2)",
    )
    sub.add_argument("--parallel", type=positive, default=32, help="resource operations at once per stack (default 32)")
    sub.add_argument("--shard", type=positive, help="run only this shard (1..shards), e.g. one per CI job")
    sub.add_argument(
        "--of",
        type=positive,
        help="with --shard: how many shard jobs the CI runs; refused unless it is the stack's shards",
    )


def parse(argv: list[str]) -> tuple[str, object]:
    """The command and its options object. Raises SystemExit (2, with argparse's message on
    stderr) for a bad or missing flag, and (0) for ``--help``."""
    top = parser()
    namespace = vars(top.parse_args(argv))
    command = namespace.pop("command")
    options = OPTIONS[command]
    if issubclass(options, StackOptions) and namespace.get("of") is not None and namespace.get("shard") is None:
        top.error("--of goes with --shard")
    for name in ("only_users", "canaries"):
        if name in namespace:
            namespace[name] = tuple(dict.fromkeys(namespace[name]))
    if namespace.get("restore") and not namespace.get("back"):
        top.error("--restore goes with --back USER")
    if (namespace.get("bake") or 0) < 0:
        top.error("--bake takes seconds ≥ 0")
    return command, options(**namespace)
