"""The ``fleet`` command: preview, up, destroy and list a fleet over all its shards.

Built on Pulumi's Automation API (``pulumi.automation``): every shard is a stack of this project
(``shards.py``), run by the Pulumi CLI in the project directory, a bounded number at once. Before
a run each shard's stack is checked for what a killed run left (``recovery.py``); every run is
previewed first, and the mass-deletion guard judges the whole fleet's plan (``guard``), not one
stack's; ``up`` then applies only the stacks whose preview has changes (starting before the last
previews end when they can no longer make the guard refuse), with ``--continue-on-error`` so one
failing gateway does not stop the others; the report names every user that failed.

Exit status: 0 done; 1 a user or stack failed (named in the report); 2 nothing was run: bad
input (roster or settings) or a stack locked by a run that may still be going; 3 refused by the
guard (nothing was changed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import yaml
from pulumi import automation as auto

from openclaw_fleet.cli import status as live_status
from openclaw_fleet.cli.plan import RunReport
from openclaw_fleet.cli.progress import Progress
from openclaw_fleet.cli.recovery import clear_killed_run, repair_backend_files
from openclaw_fleet.cli.review import Review, as_json, build_review, markdown, review_from_json
from openclaw_fleet.cli.rollout import run_rollout
from openclaw_fleet.cost import FlyPrices
from openclaw_fleet.credential_hosts import check_credential_host
from openclaw_fleet.departures import OVERRIDE_ENV, PREVIOUS_OUTPUTS_ENV, inherited, is_mass_loss
from openclaw_fleet.errors import CredentialHostRefused, RosterError
from openclaw_fleet.providers.docker.client import DEFAULT_HOST as DOCKER_HOST
from openclaw_fleet.providers.docker.client import docker_client
from openclaw_fleet.providers.fly.client import DEFAULT_API_URL, FlyClient
from openclaw_fleet.roster import User, instance_name, load_roster
from openclaw_fleet.secret_sources import SETTING as SOURCES_SETTING
from openclaw_fleet.secret_sources import SecretSource, check_references, parse_sources
from openclaw_fleet.settings import DEFAULT_FLY_ORG, DEFAULT_NAME_PREFIX, DEFAULT_ROSTER, DEFAULT_TARGET, number
from openclaw_fleet.shards import parse_shard_stack, shard_of, shard_stacks

# What the program is made of: a change to any of these may change every shard's plan.
PROGRAM_FILES = ("Pulumi.yaml", "__main__.py", "openclaw_fleet", "image")


class FleetError(Exception):
    """Bad input found before anything ran (exit status 2); the message says what and where."""


@dataclass(frozen=True)
class FleetConfig:
    """The base stack's settings the command itself needs, read from ``Pulumi.<base>.yaml``."""

    base: str
    project: str
    config_text: str
    shards: int
    roster: Path
    name_prefix: str
    deletion_share: float
    deletion_minimum: int
    fly_api: tuple[str, str] | None  # (API URL, org) on the Fly target
    target: str = DEFAULT_TARGET
    volume_gb: int = 1
    docker_host: str | None = None
    snapshot_dir: str | None = None  # unset: the program's default, per stack
    secret_sources: dict[str, SecretSource] = field(default_factory=dict)
    registry: str | None = None

    @classmethod
    def read(cls, root: Path, base: str) -> FleetConfig:
        """Raises FleetError naming the file and key of a bad or missing setting."""
        path = root / f"Pulumi.{base}.yaml"
        project = yaml.safe_load((root / "Pulumi.yaml").read_text())["name"]
        try:
            text = path.read_text()
            config = (yaml.safe_load(text) or {}).get("config") or {}
        except (OSError, yaml.YAMLError) as error:
            raise FleetError(f"{path}: cannot read the stack's settings: {error}") from None

        def setting(key: str):
            value = config.get(f"openclaw-fleet:{key}")
            return value if value is None or isinstance(value, (str, int, float)) else "?"

        try:
            sources = parse_sources(config.get(f"openclaw-fleet:{SOURCES_SETTING}"), str(path))
        except ValueError as error:
            raise FleetError(str(error)) from None
        try:
            return cls(
                base=base,
                project=project,
                config_text=text,
                shards=number("shards", setting("shards")),
                roster=root / (setting("roster") or DEFAULT_ROSTER),
                name_prefix=setting("namePrefix") or DEFAULT_NAME_PREFIX,
                deletion_share=number("massDeletionShare", setting("massDeletionShare")),
                deletion_minimum=number("massDeletionMinimum", setting("massDeletionMinimum")),
                fly_api=(setting("flyApiUrl") or DEFAULT_API_URL, setting("flyOrg") or DEFAULT_FLY_ORG)
                if setting("target") == "fly"
                else None,
                target=setting("target") or DEFAULT_TARGET,
                volume_gb=number("volumeSizeGb", setting("volumeSizeGb")),
                docker_host=setting("dockerHost"),
                snapshot_dir=setting("snapshotDir"),
                secret_sources=sources,
                registry=setting("registry"),
            )
        except ValueError as error:
            raise FleetError(f"{path}: {error}") from None


def engine_env(parallel: int) -> dict[str, str]:
    """What the Pulumi CLI processes ``fleet`` starts with ``--parallel parallel`` get, where the
    environment does not choose itself: name → value.

    - ``PULUMI_DIY_BACKEND_GZIP=true`` (unless ``PULUMI_DIY_BACKEND_GZIP`` or ``…_ZSTD`` is set). A
      file (DIY) backend rewrites the whole checkpoint after every step; gzip makes it about ten
      times smaller (a fleet's URNs and configs repeat), which the backend reads and writes
      transparently (``<stack>.json.gz``; an uncompressed checkpoint is converted at its next
      write). Pulumi Cloud ignores it.
    - ``GOGC=400`` (unless ``GOGC`` is set). Those rewrites are most of the engine's CPU during an
      ``up``, and each leaves the whole serialized checkpoint as garbage: at Go's default (100) the
      collector took about a fifth of the engine's CPU. 400 collects about a quarter as often and
      lets the heap grow to five times what is live (Go's GC guide: https://go.dev/doc/gc-guide):
      a 50-user shard's cold ``up`` peaked at 334 MiB against 178 MiB.
    - ``OPENCLAW_FLEET_PROVIDER_THREADS=<parallel>`` (unless set), read by the provider process the
      engine starts (``openclaw_fleet/providers/server.py``, default 32), so that ``--parallel``
      above 32 has as many provider calls at once, not 32 and the rest queued in the provider.
    """
    env = {}
    if not {"PULUMI_DIY_BACKEND_GZIP", "PULUMI_DIY_BACKEND_ZSTD"} & set(os.environ):
        env["PULUMI_DIY_BACKEND_GZIP"] = "true"
    if "GOGC" not in os.environ:
        env["GOGC"] = "400"
    if "OPENCLAW_FLEET_PROVIDER_THREADS" not in os.environ:
        env["OPENCLAW_FLEET_PROVIDER_THREADS"] = str(parallel)
    return env


def check_fly_api(api_url: str, org: str, token: str | None, timeout_s: float = 15.0) -> None:
    """Before any stack runs: does the Fly Machines API answer, and take the token? One
    ``GET /apps?org_slug=…``; raises FleetError saying which failed. Skipped without a token in
    ``FLY_API_TOKEN`` (a token in the stack's config secret is read by the providers only)."""
    if not token:
        return
    try:
        answer = httpx.get(
            f"{api_url.rstrip('/')}/v1/apps",
            params={"org_slug": org},
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )
    except httpx.TimeoutException:
        raise FleetError(f"the Fly Machines API at {api_url} did not answer within {timeout_s:g} s") from None
    except httpx.TransportError as error:
        raise FleetError(f"the Fly Machines API at {api_url} cannot be reached: {type(error).__name__}") from None
    if answer.status_code in (401, 403):
        raise FleetError(f"the Fly Machines API at {api_url} refused the token in FLY_API_TOKEN ({answer.status_code})")


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


def output_values(stack: auto.Stack, show_secrets: bool = False) -> dict:
    """The stack's outputs, name → value: one ``pulumi stack output --json``. An output holding a
    secret is ``"[secret]"`` unless ``show_secrets`` (only ``fleet machines`` needs one: the
    outputs the fleet plans with hold none, and decrypting the checkpoint's secrets doubles the
    CLI's CPU: 0.5 s against 0.23 s for 50 users). (``Stack.outputs()`` runs the CLI twice,
    masked and plain, to mark which outputs are secret.) Raises auto.CommandError when the CLI
    fails."""
    workspace = stack.workspace
    args = ["stack", "output", "--json", *(["--show-secrets"] if show_secrets else []), "--stack", stack.name]
    return json.loads(workspace.pulumi_command.run(args, workspace.work_dir, workspace.env_vars).stdout)


def open_stack(name: str, workspace: auto.LocalWorkspace, listed: bool) -> auto.Stack:
    """The stack ``name``: selected when ``pulumi stack ls`` listed it, else created (falling back to
    selecting it when another run created it since). ``Stack.create_or_select`` would first try
    ``pulumi stack select`` on every stack that does not exist yet, one failing CLI run each (about
    0.3 s of CPU) for every shard of a new fleet. Raises auto.CommandError when the CLI fails."""
    if listed:
        return auto.Stack.select(name, workspace)
    try:
        return auto.Stack.create(name, workspace)
    except auto.StackAlreadyExistsError:
        return auto.Stack.select(name, workspace)


def apply(stack: auto.Stack, command: str, parallel: int, on_event) -> dict[str, int]:
    """``pulumi up`` or ``pulumi destroy`` (``command``) of ``stack``, with ``--yes --skip-preview
    --continue-on-error`` and ``parallel`` resource operations at once; every engine event goes to
    ``on_event`` (shapes: ``pulumi.automation.events``) as the CLI writes it. Returns the changes,
    op → count, of the engine's summary event ({} when the run ended before one). Raises
    auto.CommandError when the CLI fails, after handing over the events it wrote.

    The Automation API's ``Stack.up`` runs three more CLI commands once the update has ended, to
    build a result the fleet does not use (``stack output`` twice, once decrypting every secret of
    the checkpoint, and ``stack history``), and ``Stack.destroy`` one: each 0.3–0.6 s of CPU, all
    inside the stack's slot. The events come from the CLI's ``--event-log`` file, as the Automation
    API reads them for CLIs before 3.206, in a folder of this run's own (mode 0700); secret values
    in engine events are masked. A line the CLI had not finished writing when it ended is left
    out, as the Automation API's own reader does."""
    workspace = stack.workspace
    with tempfile.TemporaryDirectory(prefix="fleet-events-") as folder:
        log = Path(folder) / "events.jsonl"
        args = [command, "--yes", "--skip-preview", "--continue-on-error", "--parallel", str(parallel)]
        args += ["--exec-kind", "auto.local", "--event-log", str(log), "--stack", stack.name]
        changes: dict[str, int] = {}

        def handle(event: auto.events.EngineEvent) -> None:
            nonlocal changes
            if event.summary_event:
                changes = dict(event.summary_event.resource_changes or {})
            on_event(event)

        ended, failures = threading.Event(), []

        def follow() -> None:
            try:
                follow_event_log(log, handle, ended)
            except Exception as error:  # handed to the caller's thread below
                failures.append(error)

        follower = threading.Thread(target=follow, name=f"events-{stack.name}", daemon=True)
        follower.start()
        try:
            # The CLI has --event-log only with its debug commands on, as the Automation API sets.
            workspace.pulumi_command.run(
                args, workspace.work_dir, {"PULUMI_DEBUG_COMMANDS": "true", **workspace.env_vars}
            )
        finally:
            ended.set()
            follower.join()
        if failures:
            raise failures[0]
    return changes


def follow_event_log(log: Path, on_event, ended: threading.Event, poll_s: float = 0.2) -> None:
    """Hand each whole line of the CLI's event log to ``on_event`` as an engine event while the CLI
    runs (until ``ended`` is set), then the lines it wrote last. A line the CLI had not finished
    writing when it ended is left out, as the Automation API's own reader does: a CLI killed
    mid-write must not hide the CommandError that says why the run failed."""
    pending = ""
    with contextlib.ExitStack() as files:
        reader = None
        while True:
            last_round = ended.is_set()
            if reader is None and log.exists():
                reader = files.enter_context(log.open(encoding="utf-8"))
            if reader is not None:
                pending += reader.read()
                *lines, pending = pending.split("\n")
                for line in lines:
                    if line:
                        on_event(auto.events.EngineEvent.from_json(json.loads(line)))
            if last_round:
                return
            ended.wait(poll_s)


@dataclass
class StackRun:
    """One shard's stack in this run, and what came of it."""

    name: str
    stack: auto.Stack | None  # None: a shard another job runs, with no stack yet (``Fleet.open(only=…)``)
    users: list[User]
    digest: str
    previous: dict  # its outputs from the last update; a secret one "[secret]" unless secrets_shown
    secrets_shown: bool = False
    resource_count: int | None = None  # resources in its checkpoint when opened (None: not known)
    changes: dict[str, int] | None = None  # op → count, from the preview
    seconds: float = 0.0
    error: str | None = None

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) and any(op != "same" and count for op, count in self.changes.items())

    @property
    def only_creates(self) -> bool:
        """Whether the stack is known to hold no resource yet has users: then its preview could
        only list creations (nothing to delete or replace, nothing for the guard to count), so
        ``fleet up`` runs its ``up`` without one (every shard of a new fleet)."""
        return self.resource_count == 0 and bool(self.users)

    def unchanged_since_last_update(self) -> bool:
        """Whether a preview would show nothing: the stack's last operation is an update that
        succeeded with the same program files, settings and users (the ``fleet_digest`` output).
        A later refresh (drift recorded in the state), import, or a failed update makes it False.
        Reads the stack's history (``pulumi stack history``), one entry."""
        if self.previous.get("fleet_digest") != self.digest:
            return False
        last = self.stack.history(page_size=1, show_secrets=False)
        return bool(last) and last[0].kind == "update" and last[0].result == "succeeded"


class ListedStackWorkspace(auto.LocalWorkspace):
    """A LocalWorkspace for a shard stack that ``pulumi stack ls`` has just listed: selecting it
    runs nothing. Every command the fleet runs names its stack (``--stack``), so the workspace's
    current stack does not matter to it, while ``pulumi stack select`` is one more CLI run per
    shard (about 0.3 s of CPU; 6 s for the 20 shards of 1,000 users) and left the last shard
    selected for plain ``pulumi`` commands. The base stack is selected as before."""

    def select_stack(self, stack_name: str) -> None:
        return None


def default_stacks_at_once() -> int:
    """How many shard stacks ``fleet`` runs at once unless told: the CPU cores this process may
    use, at least 2. A shard's preview keeps about one core busy (its program, engine and provider
    process take turns), and more stacks than cores only contend: on 2 cores, 1,000 users in 20
    shards previewed in 52–65 s two at once against 65–75 s four at once, with 12–30 % less CPU,
    and their cold ``up`` took 305 s against 312–332 s."""
    return max(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2)


class Fleet:
    """The shards of one base stack, run a bounded number at once (``stacks_at_once``), each with
    ``parallel`` resource operations at once (``pulumi up --parallel``)."""

    def __init__(
        self, root: Path, config: FleetConfig, stacks_at_once: int | None = None, parallel: int = 32, out=print
    ):
        self.root, self.config, self.out = root, config, out
        self.stacks_at_once, self.parallel = stacks_at_once or default_stacks_at_once(), parallel
        self.progress: Progress | None = None  # set while a run prints its progress
        try:
            self.users = load_roster(config.roster)
            check_references(self.users, config.secret_sources, config.roster, f"Pulumi.{config.base}.yaml")
        except RosterError as error:
            raise FleetError(str(error)) from None
        self.names = {instance_name(config.name_prefix, user.id): user.id for user in self.users}

    @contextmanager
    def showing_progress(self, verb: str, stacks: int, quiet: bool = False):
        """Print the run's progress (``progress.Progress``, on stderr) while the ``with`` lasts."""
        with Progress(verb, stacks, quiet=quiet) as progress:
            self.progress = progress
            try:
                yield progress
            finally:
                self.progress = None

    def _each(self, function, items):
        with ThreadPoolExecutor(max_workers=self.stacks_at_once) as pool:
            return list(pool.map(function, items))

    def _workspace_env(self, digest: str) -> dict[str, str]:
        # The fleet judges mass deletion over all shards itself (``guard``), so the program's own
        # one-stack guard is told it has been done.
        return {OVERRIDE_ENV: "1", "OPENCLAW_FLEET_DIGEST": digest, **engine_env(self.parallel)}

    def open(self, show_secrets: bool = False, only: int | None = None) -> list[StackRun]:
        """Create or select every shard's stack, copy the base stack's settings to each, clear
        what killed runs left, read each stack's previous outputs (secrets in plain text only if
        ``show_secrets``). Raises FleetError when a former shard count still holds users.

        With ``only`` (a shard number: ``--shard``, one CI job per shard), the other shards are
        only read: another job may be updating one of them right now, so none is created (a
        shard with no stack yet has no outputs: ``stack`` None), repaired or cleared here."""
        check_credential_host("dockerHost", self.config.docker_host)
        check_credential_host("registry", self.config.registry)
        if self.config.fly_api:
            check_credential_host("flyApiUrl", self.config.fly_api[0])
            check_fly_api(*self.config.fly_api, os.environ.get("FLY_API_TOKEN"))
        count = self.config.shards
        names = shard_stacks(self.config.base, count)
        secrets = (
            "passphrase" if {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} & set(os.environ) else None
        )
        # One CLI for every shard's workspace: each new one would run `pulumi version` again.
        cli = auto.PulumiCommand()
        if count > 1:
            # The base stack's secrets settings (a passphrase salt, a KMS key) go into its file
            # when it is created; every shard's copy must carry them to read the same secrets.
            base_options = auto.LocalWorkspaceOptions(secrets_provider=secrets)
            auto.create_or_select_stack(self.config.base, work_dir=str(self.root), opts=base_options)
            self.config = FleetConfig.read(self.root, self.config.base)
            header = f"# Written by `fleet` from Pulumi.{self.config.base}.yaml at every run; edit that file.\n"
            for name in names:
                (self.root / f"Pulumi.{name}.yaml").write_text(header + self.config.config_text)

        backend = os.environ.get("PULUMI_BACKEND_URL")
        ours = [name for name in names if only is None or parse_shard_stack(name)[1] == only]
        repaired = {name: repair_backend_files(name, self.config.project, backend) for name in ours}
        listing = auto.LocalWorkspace(str(self.root), pulumi_command=cli).list_stacks()
        listed = {summary.name: summary for summary in listing}
        for summary in listed.values():
            base, _, former = parse_shard_stack(summary.name)
            if base == self.config.base and former != count and (summary.resource_count or 0) > 0:
                raise FleetError(
                    f"stack {summary.name} still holds {summary.resource_count} resources of a split in {former} "
                    f"shards, and openclaw-fleet:shards is now {count}: changing the count would move users "
                    "between stacks (delete and re-create them); set it back, or destroy the former shards first"
                )

        def open_one(name: str) -> StackRun:
            _, index, _ = parse_shard_stack(name)
            users = [user for user in self.users if shard_of(user.id, count) == index]
            digest = program_digest(self.root, self.config.config_text, users, self.config.secret_sources)
            if name not in ours and name not in listed:
                return StackRun(name, None, users, digest, {})
            workspace_type = ListedStackWorkspace if count > 1 and name in listed else auto.LocalWorkspace
            workspace = workspace_type(
                str(self.root), env_vars=self._workspace_env(digest), secrets_provider=secrets, pulumi_command=cli
            )
            stack = open_stack(name, workspace, listed=name in listed)
            if name in ours:  # another job may be running the others: read, never cleared
                for sentence in repaired[name] + clear_killed_run(stack, self.config.project, backend):
                    self.out(f"{name}: {sentence}")
            return StackRun(name, stack, users, digest, output_values(stack, show_secrets), secrets_shown=show_secrets)

        runs = self._each(open_one, names)
        created = [run for run in runs if run.name not in listed and run.stack is not None]
        if created:  # just now
            listed.update((summary.name, summary) for summary in created[0].stack.workspace.list_stacks())
        for run in runs:
            run.resource_count = listed[run.name].resource_count if run.name in listed else None
        return runs

    @contextmanager
    def _previewing(self, runs: list[StackRun]):
        """The preview operation for ``_run_one`` while the ``with`` lasts.

        Each program is handed the outputs ``open`` read (``departures.previous_outputs``) in a
        file in a folder of this run's own (mode 0700), named in its workspace's environment for
        the preview only; outputs read with secrets shown never go there."""
        with tempfile.TemporaryDirectory(prefix="fleet-") as folder:
            handed = Path(folder) / "previous-outputs.json"
            handed.write_text(json.dumps({run.name: run.previous for run in runs if not run.secrets_shown}))

            def preview(stack: auto.Stack, on_event) -> dict[str, int]:
                stack.workspace.env_vars[PREVIOUS_OUTPUTS_ENV] = str(handed)
                try:
                    return dict(stack.preview(parallel=self.parallel, on_event=on_event).change_summary)
                finally:
                    del stack.workspace.env_vars[PREVIOUS_OUTPUTS_ENV]

            yield preview

    def preview(self, runs: list[StackRun]) -> RunReport:
        """Preview every run's stack; fill in ``changes``; return the fleet's plan by user."""
        with self._previewing(runs) as preview:
            return self._run(runs, preview, planning=True)

    def _report(self, runs: list[StackRun]) -> RunReport:
        """An empty report for ``runs``, naming users by their instance names now and at each
        stack's last update."""
        previous_names = {
            row.get("name"): user_id
            for run in runs
            for user_id, row in (run.previous.get("roster_state") or {}).items()
            if row.get("name")
        }
        return RunReport(self.names | previous_names)

    def guard(self, runs: list[StackRun], plan: RunReport, not_previewed: Sequence[StackRun] = ()) -> str | None:
        """Why the plan is refused as a mass deletion over the whole fleet, or None.

        Counts the users leaving the roster and the users whose volume or app the plan deletes or
        replaces (a ``namePrefix`` or region change), against all users of the last update of
        ``runs`` (every shard, also those not run now); every user of a run in ``not_previewed``
        (its users now and at its last update) counts as losing data, whatever its preview will say.
        Overridden by ``OPENCLAW_FLEET_ALLOW_MASS_DELETION=1`` in the command's environment.
        """
        previous = {user_id for run in runs for user_id in run.previous.get("roster_state") or {}}
        current = {user.id for user in self.users}
        removed = previous - current
        losing = set(plan.users_losing_data) - removed
        unknown = {user_id for run in not_previewed for user_id in _users_of(run)} - removed - losing
        affected = removed | losing | unknown
        share, minimum = self.config.deletion_share, self.config.deletion_minimum
        if os.environ.get(OVERRIDE_ENV) == "1" or not is_mass_loss(len(affected), len(previous), share, minimum):
            return None
        parts = [f"{len(removed)} leave the roster"] if removed else []
        if losing:
            reasons = sorted({reason for user in losing for reason in plan.users[user].data_loss})
            parts.append(f"{len(losing)} would lose their data ({'; '.join(reasons)})")
        if unknown:
            parts.append(f"{len(unknown)} are in shards not yet previewed")
        return (
            f"refused: this run would delete or lose the data of {len(affected)} of {len(previous)} users, more than "
            f"{share:.0%} of the fleet: {', '.join(parts)}. Users: {_few(sorted(affected))}. If that is intended, "
            f"run again with {OVERRIDE_ENV}=1"
        )

    def preview_then_up(self, runs: list[StackRun], everyone: list[StackRun]) -> FleetUp:
        """Preview the runs whose ``changes`` are not known yet, judge the fleet's plan with ``guard``
        over ``everyone``, and ``up`` (continue on error) every run with changes; at most
        ``stacks_at_once`` previews and ``stacks_at_once`` ups at once.

        An ``up`` need not wait for the previews still running or queued once they cannot make the
        guard refuse: when the users it counts so far plus every user of those shards are not a mass
        deletion, no plan of theirs can be one. From then on each run with changes goes to its
        ``up`` as soon as an up's slot is free, and the shards whose digest differs from their last
        update's are previewed first, so a roster change applies while the rest of the fleet is
        still being previewed. Ups do not take the previews' slots: a stack's program, engine and
        provider take turns, so the stacks at once leave some of the cores idle, and an up that
        took a preview's slot left the last previews running one at a time behind it (a one-user
        change in 1,000 users applied in 1.03× the no-op preview's time, against 1.15×). A refusal
        still means no ``up`` was started. After a preview fails no ``up`` starts (one already
        running ends as it would)."""
        queued = sorted(
            (run for run in runs if run.changes is None), key=lambda run: run.previous.get("fleet_digest") == run.digest
        )
        ready = [run for run in runs if run.changes is not None and run.has_changes]
        previewing = {run.name for run in queued}  # queued or running
        result = FleetUp(self._report(runs), self._report(runs))
        with self._previewing(runs) as preview, ThreadPoolExecutor(max_workers=2 * self.stacks_at_once) as pool:
            running = {}
            while True:
                not_previewed = [run for run in runs if run.name in previewing]
                may_up = not result.failed_previews and self.guard(everyone, result.plan, not_previewed) is None
                ups_running = sum(1 for run in running.values() if run.name not in previewing)
                while may_up and ready and ups_running < self.stacks_at_once:
                    run = ready.pop(0)
                    result.updated.append(run)
                    running[pool.submit(self._run_one, run, self._up, result.report)] = run
                    ups_running += 1
                while queued and len(running) - ups_running < self.stacks_at_once:
                    run = queued.pop(0)
                    running[pool.submit(self._run_one, run, preview, result.plan, True)] = run
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    run = running.pop(future)
                    future.result()
                    if run.name in previewing:
                        previewing.discard(run.name)
                        if run.error:
                            result.failed_previews.append(run)
                        elif run.has_changes:
                            ready.append(run)
        result.refusal = self.guard(everyone, result.plan)
        return result

    def _up(self, stack: auto.Stack, on_event) -> dict[str, int]:
        return apply(stack, "up", self.parallel, on_event)

    def up(self, runs: list[StackRun], only_changed: bool = True) -> RunReport:
        """``pulumi up`` (continue on error) of every run (with ``only_changed``, of those whose
        preview has changes); return what happened."""
        return self._run([run for run in runs if run.has_changes or not only_changed], self._up)

    def read_outputs(self, runs: list[StackRun]) -> None:
        """Make each run's ``previous`` its stack's outputs now (after an ``up``)."""

        def read(run: StackRun) -> None:
            run.previous = output_values(run.stack)

        self._each(read, runs)

    def destroy(self, runs: list[StackRun]) -> RunReport:
        """``pulumi destroy`` (continue on error) of every run's stack."""

        return self._run(runs, lambda stack, on_event: apply(stack, "destroy", self.parallel, on_event))

    def _run_one(self, run: StackRun, operation, report: RunReport, planning: bool = False) -> None:
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
            run.error = _last_error_line(error)
        run.seconds = time.monotonic() - started

    def _run(self, runs: list[StackRun], operation, planning: bool = False) -> RunReport:
        """``_run_one`` of each run, a bounded number at once; returns the events by user."""
        report = self._report(runs)
        self._each(lambda run: self._run_one(run, operation, report, planning), runs)
        return report


@dataclass
class FleetUp:
    """What ``Fleet.preview_then_up`` did: the fleet's plan (the previews' events), the ups' events,
    the runs that went to their ``up``, the runs whose preview failed, and the guard's refusal."""

    plan: RunReport
    report: RunReport
    updated: list[StackRun] = field(default_factory=list)
    failed_previews: list[StackRun] = field(default_factory=list)
    refusal: str | None = None


def _users_of(run: StackRun) -> set[str]:
    """The ids of ``run``'s users now and at its stack's last update."""
    return {user.id for user in run.users} | set(run.previous.get("roster_state") or {})


def _few(names: list[str], limit: int = 20) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _last_error_line(error: auto.CommandError) -> str:
    """The CLI's last error line, a URL's password masked (the backend's can appear in it)."""
    lines = [line.strip() for line in str(error).splitlines() if "error:" in line]
    return _without_passwords((lines[-1] if lines else str(error).strip().splitlines()[-1])[:500])


def _without_passwords(text: str) -> str:
    return re.sub(r"(\w+://[^:/\s@]+:)[^@\s]+@", r"\1***@", text)


def print_report(out, verb: str, runs: list[StackRun], report: RunReport, limit: int = 200) -> None:
    """Per stack: users, resource changes by op, seconds, error; then one line per user that
    changes or failed (at most ``limit``); then the counts."""
    for run in runs:
        changes = ", ".join(f"{op} {n}" for op, n in sorted((run.changes or {}).items()) if n) or "not run"
        line = f"{run.name}: {len(run.users)} users; resources: {changes}; {run.seconds:.1f} s"
        out(line + (f"; FAILED: {run.error}" if run.error else ""))
    users = sorted(set(report.changed_users) | set(report.failed_users))
    for user in users[:limit]:
        out(f"  {user}: {report.users[user].summary()}")
    if len(users) > limit:
        out(f"  … and {len(users) - limit} more users")
    current = {user.id for run in runs for user in run.users}
    out(f"{verb}: {len(users)} users change, {len(current - set(users))} unchanged, over {len(runs)} stack(s)")


RUN_SCHEMA_VERSION = 1  # of `--json` for up, rollout and destroy; raised when a field changes meaning


def print_run_document(command: str, runs: list[StackRun], status: int, **reports: RunReport | str | None) -> None:
    """``--json`` of up, rollout and destroy on stdout: ``schema``, ``command``, ``status`` (the
    exit status), ``stacks`` (name, users, changes op → count, seconds, error) and each report
    given by name (``plan``, ``applied``: ``RunReport.as_document``), or text (``refusal``)."""
    document = {
        "schema": RUN_SCHEMA_VERSION,
        "command": command,
        "status": status,
        "stacks": [
            {
                "name": run.name,
                "users": len(run.users),
                "changes": run.changes,
                "seconds": round(run.seconds, 1),
                "error": run.error,
            }
            for run in runs
        ],
    }
    for name, report in reports.items():
        document[name] = report.as_document() if isinstance(report, RunReport) else report
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def review_of(fleet: Fleet, runs: list[StackRun], plan: RunReport, everyone: list[StackRun]) -> Review:
    """The reviewer's plan (``review.py``) of a preview of ``runs``; users of shards not run
    (``--changed``, ``--shard``) count as unchanged."""
    ran = {run.name for run in runs}
    previous = {user_id: row for run in runs for user_id, row in (run.previous.get("roster_state") or {}).items()}
    users = [user for run in runs for user in run.users]
    prices = FlyPrices.load() if fleet.config.target == "fly" else None
    config = fleet.config
    review = build_review(config.base, len(runs), previous, users, config.target, config.volume_gb, plan, prices)
    review.unchanged += sum(len(run.users) for run in everyone if run.name not in ran)
    return review


def inheritances(fleet: Fleet, runs: list[StackRun]) -> list[str]:
    """``departures.inherited`` over every shard: a user's id may hash to another shard than the
    id whose gateway it would take (ids that differ in case)."""
    previous = {uid: row for run in runs for uid, row in (run.previous.get("roster_state") or {}).items()}
    departed = {uid: row for run in runs for uid, row in (run.previous.get("departed") or {}).items()}
    prefix = fleet.config.name_prefix
    current = {user.id: (instance_name(prefix, user.id), user.line, user.adopt) for user in fleet.users}
    return inherited(str(fleet.config.roster), current, previous, departed)


def write_document(review: Review, options, commit: str | None = None, run_url: str | None = None) -> None:
    """Write the plan for a reviewer (``--format markdown|json``) to ``--output`` or stdout, with
    the commit, CI run and time (given, else the CI's: GitHub Actions' or GitLab CI's variables).
    A markdown comment cut to fit GitHub's limit is written whole beside it as ``<output>.full.md``."""
    environ = os.environ
    review.commit = commit or environ.get("GITHUB_SHA") or environ.get("CI_COMMIT_SHA")
    if run_url:
        review.run_url = run_url
    elif environ.get("GITHUB_RUN_ID"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        review.run_url = f"{server}/{environ.get('GITHUB_REPOSITORY')}/actions/runs/{environ['GITHUB_RUN_ID']}"
    else:
        review.run_url = environ.get("CI_JOB_URL")
    review.time = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = markdown(review) if options.format == "markdown" else as_json(review) + "\n"
    if not options.output:
        sys.stdout.write(text)
        return
    Path(options.output).write_text(text)
    if options.format == "markdown":
        whole = markdown(review, max_chars=None, limit=len(review.changes))
        if whole != text:
            Path(f"{options.output}.full.md").write_text(whole)


def render_comment(options) -> None:
    """``fleet render``: the plan comment from the document a plan job wrote (``--plan``), read
    as untrusted data, with the commit and run the trusted caller names. A missing or unreadable
    document, or a job that did not succeed, is a failed plan, said at the top of the comment."""
    try:
        review = review_from_json(Path(options.plan).read_text())
    except (OSError, ValueError) as error:
        review = Review.failed(options.stack, f"the plan job wrote no readable plan ({error}); see its run")
    if options.conclusion != "success" and not (review.failure or review.refusal):
        review.failure = f"the plan job ended with {options.conclusion}; see its run"
    options.format = "markdown"
    write_document(review, options, commit=options.commit, run_url=options.run_url)


def show_status(fleet: Fleet, runs: list[StackRun], as_document: bool, out) -> int:
    """``fleet status``: every user as the target reports them now, against the plan
    (``status.py``); exit 1 when any differs, 2 when the target cannot be asked."""
    users = live_status.planned([run.previous for run in runs])
    target = fleet.config.target
    if target == "fly":
        token = os.environ.get("FLY_API_TOKEN")
        if not token:
            print("fleet: status on Fly reads the Fly Machines API: set FLY_API_TOKEN", file=sys.stderr)
            return 2
        client = FlyClient(fleet.config.fly_api[0], token)
    else:
        client = docker_client(fleet.config.docker_host or DOCKER_HOST)
    with client:
        live_status.observe(users, target, client)
    if as_document:
        sys.stdout.write(live_status.as_json(fleet.config.base, target, users) + "\n")
    else:
        for line in live_status.as_text(users):
            out(line)
    return 1 if any(user.differs for user in users) else 0


def run_command(command: str, root: Path, base: str, options) -> int:
    """Run ``preview``, ``up``, ``rollout``, ``destroy`` or ``machines``; return the exit status."""
    out = print
    document = getattr(options, "format", "text") != "text" or getattr(options, "json", False)
    if document:  # stdout carries the document alone; progress goes to stderr

        def out(*parts):
            print(*parts, file=sys.stderr)

    try:
        config = FleetConfig.read(root, base)
        if options.of is not None and options.of != config.shards:
            raise FleetError(
                f"the CI runs {options.of} shard job(s) but openclaw-fleet:shards is {config.shards}: set the job's "
                "`parallel` (GitLab) or matrix to the stack's shards, or some shards are never updated"
            )
        fleet = Fleet(root, config, options.stacks_at_once, options.parallel, out)
        runs = fleet.open(show_secrets=command == "machines", only=options.shard)  # machines: rows carry tokens
    except FileNotFoundError as error:  # auto.PulumiCommand() runs `pulumi version`
        print(
            f"fleet: the Pulumi CLI cannot be run ({error.strerror}: {error.filename}); bin/fleet sets it up",
            file=sys.stderr,
        )
        return 2
    except (FleetError, CredentialHostRefused, RuntimeError, auto.CommandError) as error:
        # A backend that cannot be reached or a passphrase that does not decrypt ends here too:
        # the CLI's own last error line, not a traceback.
        error = _last_error_line(error) if isinstance(error, auto.CommandError) else _without_passwords(str(error))
        print(f"fleet: {error}", file=sys.stderr)
        if document and command == "preview":
            write_document(Review.failed(base, str(error)), options)
        return 2
    everyone = runs  # the guard counts over every shard, whichever run now
    if command in ("preview", "up", "rollout"):
        problems = inheritances(fleet, everyone)
        if problems:
            print("fleet: refused, nothing was run:\n  " + "\n  ".join(problems), file=sys.stderr)
            if document and command == "preview":
                failure = "a user would inherit another's gateway: " + " ".join(problems)
                write_document(Review.failed(base, failure), options)
            return 2
    if options.shard is not None:
        runs = [run for run in runs if parse_shard_stack(run.name)[1:] == (options.shard, fleet.config.shards)]
        if not runs:
            print(f"fleet: there is no shard {options.shard} of {fleet.config.shards}", file=sys.stderr)
            return 2
    if command == "status":
        return show_status(fleet, runs, options.json, out)
    if command == "machines":
        rows = [row for run in runs for row in run.previous.get("machines") or []]
        if not options.show_secrets:
            rows = [{**row, "gateway_token": "[secret]"} for row in rows]
        out(json.dumps(rows, indent=2))
        return 0
    quiet = getattr(options, "quiet", False)
    if command == "destroy":
        with fleet.showing_progress("destroy", len(runs), quiet):
            report = fleet.destroy(runs)
        print_report(out, "destroy", runs, report)
        status = _status(runs, report)
        if getattr(options, "json", False):
            print_run_document("destroy", runs, status, applied=report)
        return status
    if getattr(options, "changed", False):
        skipped = [run for run in runs if run.unchanged_since_last_update()]
        for run in skipped:
            out(f"{run.name}: unchanged since its last update (program, settings and its users); skipped")
        runs = [run for run in runs if run not in skipped]
    if command == "preview":
        with fleet.showing_progress("preview", len(runs), quiet):
            plan = fleet.preview(runs)
        refusal = fleet.guard(everyone, plan)
        print_report(out, "preview", runs, plan)
        if document:
            review = review_of(fleet, runs, plan, everyone)
            review.refusal = refusal
            failed = [f"{run.name}: {run.error}" for run in runs if run.error] + plan.failed_users
            review.failure = f"{len(failed)} stack(s) or user(s) failed: {_few(failed, 5)}" if failed else None
            write_document(review, options)
        if refusal:
            print(f"fleet: {refusal}", file=sys.stderr)
            return 3
        return _status(runs, plan)
    for run in runs:
        if run.only_creates:
            run.changes = {"create": len(run.users)}
    with fleet.showing_progress(command, len(runs), quiet):
        result = fleet.preview_then_up(runs, everyone)
    if result.refusal or result.failed_previews:
        print_report(out, "preview", runs, result.plan)
    if result.refusal:
        print(f"fleet: {result.refusal}", file=sys.stderr)
        if getattr(options, "json", False):
            print_run_document(command, runs, 3, plan=result.plan, refusal=result.refusal)
        return 3
    if result.updated or not result.failed_previews:
        print_report(out, "up", runs, result.report)
    status = _status(runs, result.plan, result.report)
    if getattr(options, "json", False) and (command == "up" or status != 0):
        print_run_document(command, runs, status, plan=result.plan, applied=result.report)
    if command == "rollout" and status == 0:
        fleet.read_outputs(runs)
        with fleet.showing_progress("rollout", len(runs), quiet):
            return run_rollout(fleet, runs, options, out)
    return status


def _status(runs: list[StackRun], *reports: RunReport) -> int:
    failed = sorted({user for report in reports for user in report.failed_users})
    if failed:
        print(f"fleet: {len(failed)} user(s) failed: {_few(failed, 100)}", file=sys.stderr)
    errors = any(run.error for run in runs) or any(report.stack_errors for report in reports)
    return 1 if failed or errors else 0
