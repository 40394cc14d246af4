"""The ``fleet`` commands over a fleet's shards: preview, up, rollout, refresh, destroy, machines, status.

Exit status (docs/operating.md): 0 done; 1 a user or stack failed (named in the report), or
``status`` found a user differing from the plan; 2 nothing was run: bad input (roster, settings,
options), a credential refused, the backend or Fly not reachable, or a stack locked by a run that
may still be going; 3 refused by the mass-deletion guard (nothing was changed).
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from pulumi import automation as auto

from openclaw_fleet.cli import schedule
from openclaw_fleet.cli import status as live_status
from openclaw_fleet.cli.comment import write_document
from openclaw_fleet.cli.fleet import Fleet
from openclaw_fleet.cli.guard import few
from openclaw_fleet.cli.options import DestroyOptions, PlanOptions, PreviewOptions, StackOptions, UpOptions
from openclaw_fleet.cli.printing import exit_status, print_report, print_run_document
from openclaw_fleet.cli.progress import Progress
from openclaw_fleet.cli.review import Review, review_of
from openclaw_fleet.cli.rollout import run_rollout
from openclaw_fleet.cli.stacks import StackRun, last_error_line, without_passwords
from openclaw_fleet.cli.targets import target_client
from openclaw_fleet.cli.trust import against_revision
from openclaw_fleet.departures import inherited
from openclaw_fleet.environment import in_ci, state_refusal
from openclaw_fleet.errors import CannotRun, FleetError
from openclaw_fleet.roster import instance_name
from openclaw_fleet.settings import StackSettings
from openclaw_fleet.shards import parse_shard_stack


def run_command(command: str, root: Path, options: StackOptions) -> int:
    """Run ``command`` on the fleet of base stack ``options.stack`` in ``root``; return the exit
    status."""
    base = options.stack
    out = _to_stderr if options.document else print  # stdout carries the document alone

    def cannot_run(error: str) -> int:
        print(f"fleet: {error}", file=sys.stderr)
        if isinstance(options, PreviewOptions) and options.document:
            write_document(Review.failed(base, error), options.format, options.output)
        return 2

    try:
        refusal = state_refusal(base)
        if refusal:
            raise CannotRun(refusal)
        settings, config_text = StackSettings.read(root, base)
        if options.of is not None and options.of != settings.shards:
            raise CannotRun(
                f"the CI runs {options.of} shard job(s) but openclaw-fleet:shards is {settings.shards}: set the job's "
                "`parallel` (GitLab) or matrix to the stack's shards, or some shards are never updated"
            )
        only = frozenset(options.only_users) if options.only_users else None
        fleet = Fleet(root, settings, config_text, options.stacks_at_once, options.parallel, out, only)
        # In CI a stack that is not there is a mistake (a renamed project, another backend), not a new
        # fleet: every user would plan as added. Only --create-stacks creates one there.
        create = not in_ci() or (isinstance(options, PlanOptions) and options.create_stacks)
        everyone = fleet.open(show_secrets=command == "machines", only=options.shard, create=create)
    except FileNotFoundError as error:  # auto.PulumiCommand() runs `pulumi version`
        return cannot_run(f"the Pulumi CLI cannot be run ({error.strerror}: {error.filename}); bin/fleet sets it up")
    except auto.CommandError as error:  # a backend not reached, a passphrase that does not decrypt
        return cannot_run(last_error_line(error))
    except (FleetError, RuntimeError) as error:
        return cannot_run(without_passwords(str(error)))
    if command in ("preview", "up", "rollout"):
        problems = inheritances(fleet, everyone)
        if problems:
            print("fleet: refused, nothing was run:\n  " + "\n  ".join(problems), file=sys.stderr)
            if isinstance(options, PreviewOptions) and options.document:
                failure = "a user would inherit another's gateway: " + " ".join(problems)
                write_document(Review.failed(base, failure), options.format, options.output)
            return 2
    try:
        runs = chosen_runs(fleet, everyone, options)  # the guard counts over every shard, whichever run now
    except CannotRun as error:
        return cannot_run(str(error))
    if options.only_users:
        out(f"fleet: only {few(list(options.only_users), 10)} (--user): no other user's resource is touched")
    if command == "status":
        return show_status(fleet, runs, options.json, out)
    if command == "machines":
        return show_machines(runs, options.show_secrets, out)
    if command == "destroy":
        return destroy(fleet, runs, options, out)
    if command == "refresh" or (isinstance(options, UpOptions) and options.refresh):
        status = refresh(fleet, runs, everyone, options, out, as_document=command == "refresh")
        if command == "refresh" or status != 0:
            return status
    if isinstance(options, PlanOptions) and options.changed:
        skipped = [run for run in runs if run.unchanged_since_last_update()]
        for run in skipped:
            out(f"{run.name}: unchanged since its last update (program, settings and its users); skipped")
        runs = [run for run in runs if run not in skipped]
    if command == "preview":
        return preview(fleet, runs, everyone, options, out)
    status = up(fleet, runs, everyone, command, options, out)
    if command == "rollout" and status == 0:
        with Progress("rollout", len(runs), quiet=options.quiet) as progress:
            rollout = run_rollout(fleet, fleet.reopened(runs), options, out, progress)
        if options.json:
            sys.stdout.write(json.dumps(rollout.as_document(), indent=2) + "\n")
        return rollout.status
    return status


def preview(fleet: Fleet, runs: list[StackRun], everyone: list[StackRun], options: PreviewOptions, out) -> int:
    """``fleet preview``: the plan by user, the reviewer's document with ``--format`` (opening with
    the changes of trust since ``--trust-base``, when given); 3 when refused."""
    settings, trust = fleet.settings, None
    if options.trust_base:
        try:  # before any stack runs: a revision git cannot read is bad input
            trust = against_revision(fleet.root, options.trust_base, settings.stack, settings.project)
        except FleetError as error:
            print(f"fleet: --trust-base: {error}", file=sys.stderr)
            return 2
    with Progress("preview", len(runs), quiet=options.quiet) as progress:
        plan = fleet.preview(runs, progress)
    refusal = fleet.refusal(everyone, plan.by_user)
    print_report(out, "preview", plan.stacks, plan.by_user)
    if options.format != "text":
        failed = plan.failed
        failure = f"{len(failed)} stack(s) or user(s) failed: {few(failed, 5)}" if failed else None
        review = replace(
            review_of(settings, runs, plan.by_user, everyone), refusal=refusal, trust=trust, failure=failure
        )
        write_document(review, options.format, options.output)
    if refusal:
        print(f"fleet: {refusal}", file=sys.stderr)
        return 3
    return exit_status(plan)


def up(fleet: Fleet, runs: list[StackRun], everyone: list[StackRun], command: str, options: UpOptions, out) -> int:
    """``fleet up`` (and the first part of ``rollout``): previews, the guard, then the ups."""
    with Progress(command, len(runs), quiet=options.quiet) as progress:
        result = schedule.preview_then_up(fleet, runs, everyone, progress)
    plan = result.plan
    if result.refusal or result.failed_previews:
        print_report(out, "preview", plan.stacks, plan.by_user)
    if result.refusal:
        print(f"fleet: {result.refusal}", file=sys.stderr)
        if options.json:
            print_run_document(command, plan.stacks, 3, plan=plan.by_user, refusal=result.refusal)
        return 3
    if result.updated or not result.failed_previews:
        print_report(out, "up", result.final(), result.applied.by_user)
    status = exit_status(plan, result.applied)
    if options.json and (command == "up" or status != 0):
        print_run_document(command, result.final(), status, plan=plan.by_user, applied=result.applied.by_user)
    return status


def refresh(
    fleet: Fleet, runs: list[StackRun], everyone: list[StackRun], options: StackOptions, out, as_document: bool
) -> int:
    """``fleet refresh`` (and the first part of ``up --refresh``): what Fly or Docker hold read
    into every shard's state (``schedule.refresh``); 3 when the guard refuses what it would drop."""
    with Progress("refresh", len(runs), quiet=options.quiet) as progress:
        result = schedule.refresh(fleet, runs, everyone, progress)
    print_report(out, "refresh", result.final(), result.plan.by_user)
    json_wanted = as_document and options.json
    if result.refusal:
        print(f"fleet: {result.refusal}", file=sys.stderr)
        if json_wanted:
            print_run_document("refresh", result.plan.stacks, 3, plan=result.plan.by_user, refusal=result.refusal)
        return 3
    status = exit_status(result.plan, result.applied)
    if json_wanted:
        print_run_document("refresh", result.final(), status, plan=result.plan.by_user)
    return status


def destroy(fleet: Fleet, runs: list[StackRun], options: DestroyOptions, out) -> int:
    """``fleet destroy --yes``: every shard's resources."""
    with Progress("destroy", len(runs), quiet=options.quiet) as progress:
        applied = fleet.destroy(runs, progress)
    print_report(out, "destroy", applied.stacks, applied.by_user)
    status = exit_status(applied)
    if options.json:
        print_run_document("destroy", applied.stacks, status, applied=applied.by_user)
    return status


def show_machines(runs: list[StackRun], show_secrets: bool, out) -> int:
    """``fleet machines``: one JSON row per user (``outputs.MachineRow``), tokens only when asked."""
    rows = [row.model_dump() for run in runs for row in run.outputs.machines]
    if not show_secrets:
        rows = [{**row, "gateway_token": "[secret]"} for row in rows]
    out(json.dumps(rows, indent=2))
    return 0


def show_status(fleet: Fleet, runs: list[StackRun], as_document: bool, out) -> int:
    """``fleet status``: every user (of ``--user``) as the target reports them now, against the
    plan (``status.py``); exit 1 when any differs, 2 when the target cannot be asked."""
    users = live_status.planned([run.outputs for run in runs])
    if fleet.only_users is not None:
        users = [user for user in users if user.user_id in fleet.only_users]
    settings = fleet.settings
    try:
        client = target_client(settings, "status", fleet.root)
    except CannotRun as error:
        print(f"fleet: {error}", file=sys.stderr)
        return 2
    with client:
        users = live_status.observe(users, settings.target, settings.stack, client)
    if as_document:
        sys.stdout.write(live_status.as_json(settings.stack, settings.target, users) + "\n")
    else:
        for line in live_status.as_text(users):
            out(line)
    return 1 if any(user.differs for user in users) else 0


def chosen_runs(fleet: Fleet, everyone: list[StackRun], options: StackOptions) -> list[StackRun]:
    """The shards this command runs: every one, those holding ``--user``'s users, or ``--shard``'s.
    Raises CannotRun for a ``--user`` that cannot run (``scope_problems``) or a shard that is not."""
    runs = everyone
    if options.only_users:
        problems = scope_problems(fleet, everyone, options.only_users)
        if problems:
            raise CannotRun("--user: " + "; ".join(problems))
        runs = [run for run in runs if run.users_now_and_before() & fleet.only_users]
    if options.shard is not None:
        runs = [run for run in runs if parse_shard_stack(run.name)[1:] == (options.shard, fleet.settings.shards)]
        if not runs:
            raise CannotRun(f"there is no shard {options.shard} of {fleet.settings.shards}")
    return runs


def scope_problems(fleet: Fleet, runs: list[StackRun], only: tuple[str, ...]) -> list[str]:
    """Why ``--user`` cannot run as given, in words ([] when it can): an id neither in the roster
    nor in any shard's last update, or a user the roster removes from a shard the run touches
    without naming them (their records would go while their resources stay)."""
    known = {user.id for user in fleet.users} | {uid for run in runs for uid in run.outputs.roster_state}
    unknown = [uid for uid in only if uid not in known]
    problems = [f"no user {few(unknown, 10)} in {fleet.roster.name} or in the stack"] if unknown else []
    current = {user.id for user in fleet.users}
    touched = [run for run in runs if run.users_now_and_before() & set(only)]
    leaving = sorted({uid for run in touched for uid in run.outputs.roster_state} - current - set(only))
    if leaving:
        problems.append(
            f"the roster removes {few(leaving, 10)} from a shard this run touches; run without --user, or name them too"
        )
    return problems


def inheritances(fleet: Fleet, runs: list[StackRun]) -> list[str]:
    """``departures.inherited`` over every shard: a user's id may hash to another shard than the
    id whose gateway it would take (ids that differ in case)."""
    previous = {uid: row for run in runs for uid, row in run.outputs.roster_state.items()}
    departed = {uid: row for run in runs for uid, row in run.outputs.departed.items()}
    prefix = fleet.settings.name_prefix
    current = {user.id: (instance_name(prefix, user.id), user.line, user.adopt) for user in fleet.users}
    return inherited(str(fleet.roster), current, previous, departed)


def _to_stderr(*parts) -> None:
    print(*parts, file=sys.stderr)
