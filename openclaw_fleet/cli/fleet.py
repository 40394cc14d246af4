"""A fleet: the shard stacks of one base stack, opened together and run a bounded number at once.

Built on Pulumi's Automation API (``stacks.py``): every shard is a stack of this project
(``shards.py``), run by the Pulumi CLI in the project directory. Opening clears what killed runs
left (``recovery.py``); runs are previewed, judged as one plan (``guard.py``), then applied
(``schedule.py``), each with ``--continue-on-error`` so one failing gateway does not stop the rest.
Every operation returns immutable results (``results.py``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from pulumi import automation as auto

from openclaw_fleet.base_image import check_base_image
from openclaw_fleet.cli.changes import ChangesByUser
from openclaw_fleet.cli.guard import few, refusal
from openclaw_fleet.cli.progress import Progress
from openclaw_fleet.cli.recovery import clear_killed_run, clear_stale_lock, repair_backend_files
from openclaw_fleet.cli.results import Applied, Plan, StackResult
from openclaw_fleet.cli.stacks import (
    ListedStackWorkspace,
    StackRun,
    engine_env,
    last_error_line,
    open_stack,
    output_values,
    project_virtualenv,
    pulumi_cli,
    run_operation,
)
from openclaw_fleet.credential_hosts import check_credential_host
from openclaw_fleet.environment import ALLOW_MASS_DELETION, DIGEST, FLY_API_TOKEN, ONLY_USERS, PREVIOUS_OUTPUTS, flag
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
        fields = {key: value for key, value in dataclasses.asdict(user).items() if key not in ("line", "key_lines")}
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
    RosterError for a bad roster or a provider key naming an undeclared source. With
    ``only_users`` (``--user``) every operation targets only those users' resources.

    Its operations (``preview``, ``up``, ``destroy``) take the runs ``open`` returned and what
    else they need (the run's environment, a ``Progress``) and return immutable results
    (``results.py``)."""

    def __init__(
        self,
        root: Path,
        settings: StackSettings,
        config_text: str,
        stacks_at_once: int | None = None,
        parallel: int = 32,
        out=print,
        only_users: frozenset[str] | None = None,
    ):
        self.root, self.settings, self.config_text, self.out = root, settings, config_text, out
        self.only_users = only_users  # `--user`: every operation touches only these users' resources
        self.stacks_at_once, self.parallel = stacks_at_once or default_stacks_at_once(), parallel
        self.roster = root / settings.roster
        self.users = load_roster(self.roster)
        check_references(self.users, settings.secret_sources, self.roster, f"Pulumi.{settings.stack}.yaml")
        self.names = {instance_name(settings.name_prefix, user.id): user.id for user in self.users}

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
        an allowed host (``base_image.py``), or the Fly API does not take the token; CannotRun too
        for a Pulumi CLI older than ``stacks.MINIMUM_PULUMI`` or a project without a virtualenv.

        With ``only`` (a shard number: ``--shard``, one CI job per shard), the other shards are
        only read: another job may be updating one of them right now, so none is created (a
        shard with no stack yet has no outputs: ``stack`` None), repaired or cleared here. With
        ``create`` False a stack that does not exist is CannotRun, naming it, before any is made."""
        self.check_before_any_stack()
        names = shard_stacks(self.settings.stack, self.settings.shards)
        ours = [name for name in names if only is None or parse_shard_stack(name)[1] == only]
        cli = pulumi_cli()  # one for every workspace: each new one runs `pulumi version`
        made = project_virtualenv(self.root)
        if made:
            self.out(f"fleet: {made}")
        backend = os.environ.get("PULUMI_BACKEND_URL")
        repaired = {name: repair_backend_files(name, self.settings.project, backend) for name in ours}
        listed = {
            summary.name: summary for summary in auto.LocalWorkspace(str(self.root), pulumi_command=cli).list_stacks()
        }
        self.refuse_missing_stacks(ours, listed, create)
        secrets = (
            "passphrase" if {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} & set(os.environ) else None
        )
        if self.settings.shards > 1:
            self.write_shard_files(names, secrets)
        self.refuse_former_split(listed)

        def open_one(name: str) -> StackRun:
            if name not in ours and name not in listed:
                return StackRun(name, None, self.users_of(name), self.digest_of(name), {})
            run = self.open_stack(name, listed.get(name), cli, secrets, show_secrets)
            if name in ours:  # another job may be running the others: read, never cleared
                for sentence in repaired[name] + clear_killed_run(run.stack, self.settings.project, backend):
                    self.out(f"{name}: {sentence}")
            return run

        return self.each(open_one, names)

    def check_before_any_stack(self) -> None:
        """Where the settings send credentials, the base image's pin, the Fly API and its token
        (``open``'s first step; its errors)."""
        settings = self.settings
        check_credential_host("dockerHost", settings.docker_host)
        check_credential_host("registry", settings.registry)
        check_base_image(settings.target, settings.fly_api_url, settings.base_image)
        if settings.target == "fly":
            check_credential_host("flyApiUrl", settings.fly_api_url)
            check_fly_api(settings.fly_api_url, settings.fly_org, os.environ.get(FLY_API_TOKEN))

    def refuse_missing_stacks(self, ours: list[str], listed: dict, create: bool) -> None:
        """Unless ``create``, CannotRun naming the stacks of ``ours`` (and the base stack of a
        sharded fleet) that the backend's listing lacks."""
        settings = self.settings
        wanted = ours + ([settings.stack] if settings.shards > 1 else [])
        missing = [name for name in wanted if name not in listed]
        if missing and not create:
            raise CannotRun(
                f"stack {few(missing, 3)} of project {settings.project} does not exist in this backend, and in CI the "
                "fleet creates no stack unless told (--create-stacks): a renamed project or another backend would "
                "plan every user as new"
            )

    def write_shard_files(self, names: list[str], secrets: str | None) -> None:
        """Create or select the base stack, then write its file's text as every shard's
        ``Pulumi.<shard>.yaml``. The base stack's secrets settings (a passphrase salt, a KMS key)
        go into its file when it is created; every shard's copy must carry them to read the same
        secrets. Only ``config_text`` changes (the salt): the settings stand, so an ESC stack is
        not resolved twice."""
        options = auto.LocalWorkspaceOptions(secrets_provider=secrets)
        auto.create_or_select_stack(self.settings.stack, work_dir=str(self.root), opts=options)
        self.config_text = (self.root / f"Pulumi.{self.settings.stack}.yaml").read_text()
        header = f"# Written by `fleet` from Pulumi.{self.settings.stack}.yaml at every run; edit that file.\n"
        for name in names:
            (self.root / f"Pulumi.{name}.yaml").write_text(header + self.config_text)

    def refuse_former_split(self, listed: dict) -> None:
        """CannotRun when a shard stack of another shard count still holds resources: changing
        the count would move users between stacks (delete and re-create them)."""
        settings = self.settings
        for summary in listed.values():
            base, _, former = parse_shard_stack(summary.name)
            if base == settings.stack and former != settings.shards and (summary.resource_count or 0) > 0:
                raise CannotRun(
                    f"stack {summary.name} still holds {summary.resource_count} resources of a split in {former} "
                    f"shards, and openclaw-fleet:shards is now {settings.shards}: changing the count would move "
                    "users between stacks (delete and re-create them); set it back, or destroy the former shards first"
                )

    def users_of(self, name: str) -> list[User]:
        """The roster's users whose id hashes to shard stack ``name``."""
        _, index, _ = parse_shard_stack(name)
        return [user for user in self.users if shard_of(user.id, self.settings.shards) == index]

    def digest_of(self, name: str) -> str:
        """``program_digest`` of shard stack ``name``: the settings as read count too (values
        from ESC environments are not in the file's text)."""
        config = self.config_text + self.settings.model_dump_json()
        return program_digest(self.root, config, self.users_of(name), self.settings.secret_sources)

    def open_stack(
        self, name: str, summary: auto.StackSummary | None, cli, secrets: str | None, show_secrets: bool
    ) -> StackRun:
        """Select (the listing's ``summary`` of it given) or create stack ``name`` in a workspace
        of its own and read its outputs. The fleet judges mass deletion over all shards itself
        (guard.py), so the program's own one-stack guard is told it has been done."""
        digest = self.digest_of(name)
        env = {ALLOW_MASS_DELETION: "1", DIGEST: digest, **engine_env(self.parallel)}
        listed = summary is not None
        workspace_type = ListedStackWorkspace if self.settings.shards > 1 and listed else auto.LocalWorkspace
        workspace = workspace_type(str(self.root), env_vars=env, secrets_provider=secrets, pulumi_command=cli)
        stack, created = open_stack(name, workspace, listed=listed)
        # The resources in its checkpoint: none when just created; not known when another run
        # created it since the listing.
        count = summary.resource_count if listed else (0 if created else None)
        previous = output_values(stack, show_secrets)
        return StackRun(name, stack, self.users_of(name), digest, previous, show_secrets, count)

    def reopened(self, runs: list[StackRun]) -> list[StackRun]:
        """``runs`` with the outputs their stacks hold now (after an ``up``)."""
        return self.each(lambda run: dataclasses.replace(run, previous=output_values(run.stack)), runs)

    @contextmanager
    def handed_outputs(self, runs: list[StackRun]):
        """The environment that hands each preview the outputs ``open`` read
        (``stack_outputs.previous_outputs``), while the ``with`` lasts: a file in a folder of
        this run's own (mode 0700); outputs read with secrets shown never go there."""
        with tempfile.TemporaryDirectory(prefix="fleet-") as folder:
            handed = Path(folder) / "previous-outputs.json"
            handed.write_text(json.dumps({run.name: run.previous for run in runs if not run.secrets_shown}))
            yield {PREVIOUS_OUTPUTS: str(handed)}

    def changes_by_user(self, runs: list[StackRun]) -> ChangesByUser:
        """An empty collector of engine events for ``runs``, naming users by their instance names
        now and at each stack's last update."""
        previous_names = {row.name: uid for run in runs for uid, row in run.outputs.roster_state.items() if row.name}
        return ChangesByUser(self.names | previous_names)

    def refusal(self, runs: list[StackRun], plan: ChangesByUser, not_previewed: Sequence[StackRun] = ()) -> str | None:
        """``guard.refusal`` of ``plan`` over the users of the last update of ``runs`` (every
        shard), counting every user of a run in ``not_previewed`` as losing data; None with
        ``OPENCLAW_FLEET_ALLOW_MASS_DELETION=1`` in the command's environment."""
        if flag(ALLOW_MASS_DELETION):
            return None
        previous = {uid for run in runs for uid in run.outputs.roster_state}
        untouched = previous - self.only_users if self.only_users is not None else set()
        return refusal(
            previous=previous,
            current={user.id for user in self.users} | untouched,
            losing={uid: plan.users[uid].data_loss for uid in plan.users_losing_data},
            unknown={uid for run in not_previewed for uid in run.users_now_and_before()},
            share=self.settings.mass_deletion_share,
            minimum=self.settings.mass_deletion_minimum,
        )

    def targets_of(self, run: StackRun) -> list[str]:
        """The ``--target`` URN patterns of the ``only_users`` that ``run`` holds now or held at its
        last update: each user's gateway component (``**::<instance>``) and every resource of it,
        each named after the instance (``**::<instance>-*`` too); [] for a run of every user.

        Not the gateway image: other users' machines depend on it, and the engine cannot keep the
        checkpoint in order when a targeted run updates a dependency of resources it leaves alone
        ("snapshot integrity failure"); a ``--user`` rollout moves users to the image the last
        full ``up`` built."""
        if self.only_users is None:
            return []
        instances = {uid: name for name, uid in self.names.items()}
        instances |= {uid: row.name for uid, row in run.outputs.roster_state.items() if row.name}
        names = sorted(instances[uid] for uid in self.only_users & run.users_now_and_before() if uid in instances)
        return [pattern for name in names for pattern in (f"**::{name}", f"**::{name}-*")]

    def operate(
        self, stack: auto.Stack, operation: str, env: Mapping[str, str], on_event, targets: Sequence[str] = ()
    ) -> dict[str, int]:
        """``stacks.run_operation`` of one stack; an ``up``, ``refresh`` or ``destroy`` once more after clearing
        the lock of a killed run that refused it (``recovery.clear_stale_lock``: backends other
        than files)."""
        try:
            return run_operation(stack, operation, self.parallel, env, on_event, targets)
        except auto.CommandError as error:
            cleared = clear_stale_lock(stack, str(error)) if not operation.endswith("preview") else []
            if not cleared:
                raise
        for sentence in cleared:
            self.out(f"{stack.name}: {sentence}")
        return run_operation(stack, operation, self.parallel, env, on_event, targets)

    def run_one(
        self,
        run: StackRun,
        operation: str,
        by_user: ChangesByUser,
        env: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> StackResult:
        """``operation`` (``stacks.OPERATIONS``) of ``run``'s stack with ``env`` added; its engine
        events go to ``by_user`` and ``progress``. Returns its result; a failed CLI run is its
        ``error`` (the last line), not raised."""
        started = time.monotonic()

        def on_event(event: auto.events.EngineEvent) -> None:
            by_user.on_event(event)
            if progress is not None:
                progress.on_event(run.name, event, operation.endswith("preview"))

        scope = {ONLY_USERS: json.dumps(sorted(self.only_users))} if self.only_users is not None else {}
        try:
            changes, error = (
                self.operate(run.stack, operation, {**(env or {}), **scope}, on_event, self.targets_of(run)),
                None,
            )
        except auto.CommandError as failure:
            changes, error = None, last_error_line(failure)
        return StackResult(run.name, run.user_ids, changes, time.monotonic() - started, error)

    def run_all(
        self, runs: list[StackRun], operation: str, env_of=None, progress: Progress | None = None
    ) -> tuple[tuple[StackResult, ...], ChangesByUser]:
        """``run_one`` of each run (with ``env_of(run)``, a mapping, when given), a bounded number
        at once; the results in order and the events by user."""
        by_user = self.changes_by_user(runs)
        results = self.each(
            lambda run: self.run_one(run, operation, by_user, env_of(run) if env_of else None, progress), runs
        )
        return tuple(results), by_user

    def preview(self, runs: list[StackRun], progress: Progress | None = None) -> Plan:
        """Preview every run's stack: the fleet's plan."""
        with self.handed_outputs(runs) as handed:
            return Plan(*self.run_all(runs, "preview", lambda run: handed, progress))

    def up(self, runs: list[StackRun], progress: Progress | None = None, env_of=None) -> Applied:
        """``pulumi up`` (continue on error) of every run's stack, with ``env_of(run)`` added."""
        return Applied(*self.run_all(runs, "up", env_of, progress))

    def destroy(self, runs: list[StackRun], progress: Progress | None = None) -> Applied:
        """``pulumi destroy`` (continue on error) of every run's stack."""
        return Applied(*self.run_all(runs, "destroy", None, progress))
