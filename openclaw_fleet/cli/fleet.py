"""A fleet: the shard stacks of one base stack, opened together and run a bounded number at once.

Built on Pulumi's Automation API (``stacks.py``): every shard is a stack of this project
(``shards.py``), run by the Pulumi CLI in the project directory. Opening clears what killed runs
left (``recovery.py``); runs are previewed, judged as one plan (``guard.py``), then applied
(``schedule.py``), each with ``--continue-on-error`` so one failing gateway does not stop the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path

from pulumi import automation as auto

from openclaw_fleet.base_image import check_base_image
from openclaw_fleet.cli.guard import few, refusal
from openclaw_fleet.cli.plan import RunReport
from openclaw_fleet.cli.progress import Progress
from openclaw_fleet.cli.recovery import clear_killed_run, clear_stale_lock, repair_backend_files
from openclaw_fleet.cli.stacks import (
    ListedStackWorkspace,
    StackRun,
    apply,
    engine_env,
    last_error_line,
    open_stack,
    output_values,
)
from openclaw_fleet.credential_hosts import check_credential_host
from openclaw_fleet.environment import ALLOW_MASS_DELETION, DIGEST, FLY_API_TOKEN, PREVIOUS_OUTPUTS, flag
from openclaw_fleet.errors import CannotRun, FlyApiError, FlyUnreachable
from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.roster import User, instance_name, load_roster
from openclaw_fleet.secret_sources import SecretSource, check_references
from openclaw_fleet.settings import StackSettings
from openclaw_fleet.shards import parse_shard_stack, shard_of, shard_stacks

# What the program is made of: a change to any of these may change every shard's plan.
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "openclaw_fleet", "image")


def check_fly_api(api_url: str, org: str, token: str | None, timeout_s: float = 15.0) -> None:
    """Before any stack runs: does the Fly Machines API answer, and take the token? One
    ``GET /apps?org_slug=…`` (``FlyClient.list_apps``); raises CannotRun saying which failed.
    Skipped without a token in ``FLY_API_TOKEN`` (one in the stack's config is the providers' only)."""
    if not token:
        return
    try:
        with FlyClient(api_url, token, timeout=timeout_s) as fly:
            fly.list_apps(org)
    except FlyUnreachable as error:
        raise CannotRun(f"the Fly Machines API at {api_url} cannot be reached: {error.reason}") from None
    except FlyApiError as error:
        if error.status in (401, 403):
            refused = f"refused the token in FLY_API_TOKEN ({error.status})"
            raise CannotRun(f"the Fly Machines API at {api_url} {refused}") from None
        raise CannotRun(f"the Fly Machines API at {api_url}: {error}") from None


def program_digest(root: Path, config_text: str, users: list[User], sources: dict[str, SecretSource]) -> str:
    """SHA-256 (hex) of what decides a shard's plan: the program's files, the settings, its users,
    and the values of the environment variables its users' secret sources read (``env`` sources;
    each enters as its own SHA-256, so the digest, a plain stack output, holds no secret), since a
    changed key updates that user's app secrets."""
    digest = hashlib.sha256(config_text.encode())
    for entry in PROGRAM_FILES:
        paths = [root / entry] if (root / entry).is_file() else sorted((root / entry).rglob("*"))
        for path in paths:
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    for user in sorted(users, key=lambda user: user.id):
        fields = {key: value for key, value in asdict(user).items() if key not in ("line", "key_lines")}
        digest.update(json.dumps(fields, sort_keys=True).encode())
        for source_name in sorted(user.provider_keys.values()):
            source = sources.get(source_name)
            if source is not None and source.kind == "env":
                digest.update(hashlib.sha256((os.environ.get(source.key) or "").encode()).digest())
    return digest.hexdigest()


def default_stacks_at_once() -> int:
    """How many shard stacks ``fleet`` runs at once unless told: the CPU cores this process may
    use, at least 2. A shard's preview keeps about one core busy; more only contend (docs/scale.md)."""
    return max(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2)


class Fleet:
    """The shards of the base stack ``settings.stack`` (its file's text: ``config_text``), run
    ``stacks_at_once`` at a time, each with ``parallel`` resource operations at once. Raises
    RosterError for a bad roster or a provider key naming an undeclared source."""

    def __init__(
        self,
        root: Path,
        settings: StackSettings,
        config_text: str,
        stacks_at_once: int | None = None,
        parallel: int = 32,
        out=print,
    ):
        self.root, self.settings, self.config_text, self.out = root, settings, config_text, out
        self.stacks_at_once, self.parallel = stacks_at_once or default_stacks_at_once(), parallel
        self.progress: Progress | None = None  # set while a run prints its progress
        self.roster = root / settings.roster
        self.users = load_roster(self.roster)
        check_references(self.users, settings.secret_sources, self.roster, f"Pulumi.{settings.stack}.yaml")
        self.names = {instance_name(settings.name_prefix, user.id): user.id for user in self.users}

    @contextmanager
    def showing_progress(self, verb: str, stacks: int, quiet: bool = False):
        """Print the run's progress (``progress.Progress``, on stderr) while the ``with`` lasts."""
        with Progress(verb, stacks, quiet=quiet) as progress:
            self.progress = progress
            try:
                yield progress
            finally:
                self.progress = None

    def each(self, function, items):
        """``function`` of every item, ``stacks_at_once`` at a time; the results in order."""
        with ThreadPoolExecutor(max_workers=self.stacks_at_once) as pool:
            return list(pool.map(function, items))

    def open(self, show_secrets: bool = False, only: int | None = None, create: bool = True) -> list[StackRun]:
        """Create or select every shard's stack, copy the base stack's settings to each, clear
        what killed runs left, read each stack's previous outputs (secrets in plain text only if
        ``show_secrets``). Raises CannotRun when a former shard count still holds users, and
        CredentialHostRefused, BaseImageRefused or CannotRun before any stack when a credential
        may not go where the settings say, a Fly stack's base image is not pinned by digest from
        an allowed host (``base_image.py``), or the Fly API does not take the token.

        With ``only`` (a shard number: ``--shard``, one CI job per shard), the other shards are
        only read: another job may be updating one of them right now, so none is created (a
        shard with no stack yet has no outputs: ``stack`` None), repaired or cleared here. With
        ``create`` False a stack that does not exist is CannotRun, naming it, before any is made."""
        settings = self.settings
        check_credential_host("dockerHost", settings.docker_host)
        check_credential_host("registry", settings.registry)
        check_base_image(settings.target, settings.fly_api_url, settings.base_image)
        if settings.target == "fly":
            check_credential_host("flyApiUrl", settings.fly_api_url)
            check_fly_api(settings.fly_api_url, settings.fly_org, os.environ.get(FLY_API_TOKEN))
        count = settings.shards
        names = shard_stacks(settings.stack, count)
        secrets = (
            "passphrase" if {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} & set(os.environ) else None
        )
        cli = auto.PulumiCommand()  # one for every workspace: each new one runs `pulumi version`
        backend = os.environ.get("PULUMI_BACKEND_URL")
        ours = [name for name in names if only is None or parse_shard_stack(name)[1] == only]
        repaired = {name: repair_backend_files(name, settings.project, backend) for name in ours}
        listing = auto.LocalWorkspace(str(self.root), pulumi_command=cli).list_stacks()
        listed = {summary.name: summary for summary in listing}
        missing = [name for name in ours + ([settings.stack] if count > 1 else []) if name not in listed]
        if missing and not create:
            raise CannotRun(
                f"stack {few(missing, 3)} of project {settings.project} does not exist in this backend, and in CI the "
                "fleet creates no stack unless told (--create-stacks): a renamed project or another backend would "
                "plan every user as new"
            )
        if count > 1:
            # The base stack's secrets settings (a passphrase salt, a KMS key) go into its file
            # when it is created; every shard's copy must carry them to read the same secrets.
            base_options = auto.LocalWorkspaceOptions(secrets_provider=secrets)
            auto.create_or_select_stack(settings.stack, work_dir=str(self.root), opts=base_options)
            # Only the text changes (the salt); the settings stand, so an ESC stack is not resolved twice.
            self.config_text = (self.root / f"Pulumi.{settings.stack}.yaml").read_text()
            header = f"# Written by `fleet` from Pulumi.{settings.stack}.yaml at every run; edit that file.\n"
            for name in names:
                (self.root / f"Pulumi.{name}.yaml").write_text(header + self.config_text)
        for summary in listed.values():
            base, _, former = parse_shard_stack(summary.name)
            if base == settings.stack and former != count and (summary.resource_count or 0) > 0:
                raise CannotRun(
                    f"stack {summary.name} still holds {summary.resource_count} resources of a split in {former} "
                    f"shards, and openclaw-fleet:shards is now {count}: changing the count would move users "
                    "between stacks (delete and re-create them); set it back, or destroy the former shards first"
                )

        def open_one(name: str) -> StackRun:
            _, index, _ = parse_shard_stack(name)
            users = [user for user in self.users if shard_of(user.id, count) == index]
            # The settings as read too: values from ESC environments are not in the file's text.
            config = self.config_text + self.settings.model_dump_json()
            digest = program_digest(self.root, config, users, self.settings.secret_sources)
            if name not in ours and name not in listed:
                return StackRun(name, None, users, digest, {})
            workspace_type = ListedStackWorkspace if count > 1 and name in listed else auto.LocalWorkspace
            # The fleet judges mass deletion over all shards itself (guard.py), so the program's
            # own one-stack guard is told it has been done.
            env = {ALLOW_MASS_DELETION: "1", DIGEST: digest, **engine_env(self.parallel)}
            workspace = workspace_type(str(self.root), env_vars=env, secrets_provider=secrets, pulumi_command=cli)
            stack = open_stack(name, workspace, listed=name in listed)
            if name in ours:  # another job may be running the others: read, never cleared
                for sentence in repaired[name] + clear_killed_run(stack, settings.project, backend):
                    self.out(f"{name}: {sentence}")
            return StackRun(name, stack, users, digest, output_values(stack, show_secrets), secrets_shown=show_secrets)

        runs = self.each(open_one, names)
        created = [run for run in runs if run.name not in listed and run.stack is not None]
        if created:  # just now
            listed.update((summary.name, summary) for summary in created[0].stack.workspace.list_stacks())
        for run in runs:
            run.resource_count = listed[run.name].resource_count if run.name in listed else None
        return runs

    @contextmanager
    def previewing(self, runs: list[StackRun]):
        """The preview operation for ``run_one`` while the ``with`` lasts.

        Each program is handed the outputs ``open`` read (``departures.previous_outputs``) in a
        file in a folder of this run's own (mode 0700), named in its workspace's environment for
        the preview only; outputs read with secrets shown never go there."""
        with tempfile.TemporaryDirectory(prefix="fleet-") as folder:
            handed = Path(folder) / "previous-outputs.json"
            handed.write_text(json.dumps({run.name: run.previous for run in runs if not run.secrets_shown}))

            def preview(stack: auto.Stack, on_event) -> dict[str, int]:
                stack.workspace.env_vars[PREVIOUS_OUTPUTS] = str(handed)
                try:
                    return dict(stack.preview(parallel=self.parallel, on_event=on_event).change_summary)
                finally:
                    del stack.workspace.env_vars[PREVIOUS_OUTPUTS]

            yield preview

    def preview(self, runs: list[StackRun]) -> RunReport:
        """Preview every run's stack; fill in ``changes``; return the fleet's plan by user."""
        with self.previewing(runs) as preview:
            return self.run_all(runs, preview, planning=True)

    def report_for(self, runs: list[StackRun]) -> RunReport:
        """An empty report for ``runs``, naming users by their instance names now and at each
        stack's last update."""
        previous_names = {row.name: uid for run in runs for uid, row in run.outputs.roster_state.items() if row.name}
        return RunReport(self.names | previous_names)

    def refusal(self, runs: list[StackRun], plan: RunReport, not_previewed: Sequence[StackRun] = ()) -> str | None:
        """``guard.refusal`` of ``plan`` over the users of the last update of ``runs`` (every
        shard), counting every user of a run in ``not_previewed`` as losing data; None with
        ``OPENCLAW_FLEET_ALLOW_MASS_DELETION=1`` in the command's environment."""
        if flag(ALLOW_MASS_DELETION):
            return None
        return refusal(
            previous={uid for run in runs for uid in run.outputs.roster_state},
            current={user.id for user in self.users},
            losing={uid: plan.users[uid].data_loss for uid in plan.users_losing_data},
            unknown={uid for run in not_previewed for uid in run.users_now_and_before()},
            share=self.settings.mass_deletion_share,
            minimum=self.settings.mass_deletion_minimum,
        )

    def up_one(self, stack: auto.Stack, on_event) -> dict[str, int]:
        """``pulumi up`` of one stack (``stacks.apply``); once more after clearing the lock of a
        killed run that refused it (``recovery.clear_stale_lock``: backends other than files)."""
        try:
            return apply(stack, "up", self.parallel, on_event)
        except auto.CommandError as error:
            cleared = clear_stale_lock(stack, str(error))
            if not cleared:
                raise
        for sentence in cleared:
            self.out(f"{stack.name}: {sentence}")
        return apply(stack, "up", self.parallel, on_event)

    def up(self, runs: list[StackRun], only_changed: bool = True) -> RunReport:
        """``pulumi up`` (continue on error) of every run (with ``only_changed``, of those whose
        preview has changes); return what happened."""
        return self.run_all([run for run in runs if run.has_changes or not only_changed], self.up_one)

    def read_outputs(self, runs: list[StackRun]) -> None:
        """Make each run's outputs its stack's outputs now (after an ``up``)."""
        self.each(lambda run: run.replace_outputs(output_values(run.stack)), runs)

    def destroy(self, runs: list[StackRun]) -> RunReport:
        """``pulumi destroy`` (continue on error) of every run's stack."""
        return self.run_all(runs, lambda stack, on_event: apply(stack, "destroy", self.parallel, on_event))

    def run_one(self, run: StackRun, operation, report: RunReport, planning: bool = False) -> None:
        """``operation(stack, on_event)`` → changes (op → count) on ``run``'s stack; records the run's
        changes, seconds and error (a failed CLI run's last line) and the events in ``report``."""
        started = time.monotonic()

        def on_event(event: auto.events.EngineEvent) -> None:
            report.on_event(event)
            if self.progress is not None:
                self.progress.on_event(run.name, event, planning)

        try:
            run.changes, run.error = operation(run.stack, on_event), None
        except auto.CommandError as error:
            run.error = last_error_line(error)
        run.seconds = time.monotonic() - started

    def run_all(self, runs: list[StackRun], operation, planning: bool = False) -> RunReport:
        """``run_one`` of each run, a bounded number at once; returns the events by user."""
        report = self.report_for(runs)
        self.each(lambda run: self.run_one(run, operation, report, planning), runs)
        return report
