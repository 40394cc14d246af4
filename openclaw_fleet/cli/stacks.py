"""The fleet's use of Pulumi's Automation API (``pulumi.automation``): one shard's stack at a time.

Opening a stack, reading its outputs, running ``preview``/``up``/``refresh``/``destroy`` with the
engine's events followed while the CLI runs, and what a failed CLI run said. ``fleet.py`` runs
many of these.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pulumi import automation as auto
from semver import VersionInfo

from openclaw_fleet.environment import PROVIDER_THREADS
from openclaw_fleet.errors import CannotRun
from openclaw_fleet.outputs import StackOutputs
from openclaw_fleet.roster import User


def engine_env(parallel: int) -> dict[str, str]:
    """What the Pulumi CLI processes ``fleet`` starts with ``--parallel parallel`` get, where the
    environment does not choose itself: name → value.

    - ``PULUMI_DIY_BACKEND_GZIP=true`` (unless it or ``…_ZSTD`` is set): a file backend rewrites
      the whole checkpoint after every step, and gzip makes it about ten times smaller (read and
      written transparently as ``<stack>.json.gz``; Pulumi Cloud ignores it).
    - ``GOGC=400`` (unless set): those rewrites leave the whole checkpoint as garbage each time;
      collecting a quarter as often (Go's GC guide, https://go.dev/doc/gc-guide) trades memory
      for the engine's CPU (docs/scale.md).
    - ``OPENCLAW_FLEET_PROVIDER_THREADS=<parallel>`` (unless set), so ``--parallel`` above 32 has
      as many provider calls at once (``providers/server.py``).
    """
    env = {}
    if not {"PULUMI_DIY_BACKEND_GZIP", "PULUMI_DIY_BACKEND_ZSTD"} & set(os.environ):
        env["PULUMI_DIY_BACKEND_GZIP"] = "true"
    if "GOGC" not in os.environ:
        env["GOGC"] = "400"
    if PROVIDER_THREADS not in os.environ:
        env[PROVIDER_THREADS] = str(parallel)
    return env


MINIMUM_PULUMI = "3.259.0"  # the CLI the fleet is tested with (its flags: --target globs, refresh --preview-only)


def pulumi_cli() -> auto.PulumiCommand:
    """The Pulumi CLI on PATH (``pulumi version`` runs once). Raises CannotRun when it is older than
    MINIMUM_PULUMI, saying what to do; FileNotFoundError when there is none."""
    cli = auto.PulumiCommand(skip_version_check=True)
    minimum = VersionInfo.parse(MINIMUM_PULUMI)
    if cli.version is not None and cli.version < minimum:
        raise CannotRun(
            f"the Pulumi CLI on PATH is {cli.version}; fleet needs {MINIMUM_PULUMI} or later "
            "(https://www.pulumi.com/docs/iac/download-install/), or run bin/fleet, which sets one up"
        )
    return cli


def project_virtualenv(root: Path) -> str | None:
    """Make sure the project at ``root`` has the virtualenv Pulumi.yaml names (``.venv``): when it
    has none and this process runs in one (``pipx install .``), link ``.venv`` to it, so the
    program and its providers run with fleet's own packages. Returns what was done, in words, or
    None. Raises CannotRun when there is neither."""
    venv = root / ".venv"
    if venv.exists() or venv.is_symlink():  # a dangling link is the user's to mend, not to replace
        return None
    if sys.prefix == sys.base_prefix:
        raise CannotRun(f"{root} has no .venv (Pulumi.yaml runs the program there): bin/setup makes one")
    venv.symlink_to(sys.prefix, target_is_directory=True)
    return f".venv → {sys.prefix} (the program runs with fleet's own Python packages)"


def output_values(stack: auto.Stack, show_secrets: bool = False) -> dict:
    """The stack's outputs, name → value: one ``pulumi stack output --json``. An output holding a
    secret is ``"[secret]"`` unless ``show_secrets`` (decrypting doubles the CLI's CPU; only
    ``fleet machines`` needs one). ``Stack.outputs()`` would run the CLI twice. Raises
    auto.CommandError when the CLI fails."""
    workspace = stack.workspace
    args = ["stack", "output", "--json", *(["--show-secrets"] if show_secrets else []), "--stack", stack.name]
    return json.loads(workspace.pulumi_command.run(args, workspace.work_dir, workspace.env_vars).stdout)


def open_stack(name: str, workspace: auto.LocalWorkspace, listed: bool) -> tuple[auto.Stack, bool]:
    """The stack ``name`` and whether this call created it: selected when ``pulumi stack ls``
    listed it, else created (falling back to selecting it when another run created it since),
    without ``Stack.create_or_select``'s failing ``pulumi stack select`` first for each new shard.
    Raises auto.CommandError when the CLI fails."""
    if listed:
        return auto.Stack.select(name, workspace), False
    try:
        return auto.Stack.create(name, workspace), True
    except auto.StackAlreadyExistsError:
        return auto.Stack.select(name, workspace), False


# The CLI's arguments for each operation the fleet runs (an update keeps going past a failed
# resource, so one failing gateway does not stop the others of its shard).
OPERATIONS = {
    "preview": ["preview"],
    "up": ["up", "--yes", "--skip-preview", "--continue-on-error"],
    "refresh-preview": ["refresh", "--preview-only"],  # reads the target, changes no state
    "refresh": ["refresh", "--yes", "--skip-preview"],
    "destroy": ["destroy", "--yes", "--skip-preview", "--continue-on-error"],
}


def run_operation(
    stack: auto.Stack, operation: str, parallel: int, env: Mapping[str, str], on_event, targets: Sequence[str] = ()
) -> dict[str, int]:
    """``pulumi <operation>`` (a key of OPERATIONS) of ``stack`` with ``parallel`` resource
    operations at once, only on the resources whose URNs match ``targets`` when given (``--target``,
    globs allowed: https://www.pulumi.com/docs/iac/guides/basics/targeted-updates/), and ``env``
    added to its workspace's environment for this run only;
    every engine event goes to ``on_event`` (shapes: ``pulumi.automation.events``) as the CLI
    writes it. Returns the changes, op → count, of the engine's summary event ({} when the run
    ended before one). Raises auto.CommandError when the CLI fails, after handing over the events
    it wrote.

    Not ``Stack.up``/``Stack.preview``: the update runs three more CLI commands after it (outputs
    twice, history) for a result the fleet does not use, and neither takes an environment of its
    own (only the workspace's, which every run of the stack shares). The events come from the
    CLI's ``--event-log`` file, as the Automation API reads them, in a folder of this run's own
    (mode 0700); secret values in engine events are masked."""
    workspace = stack.workspace
    with tempfile.TemporaryDirectory(prefix="fleet-events-") as folder:
        log = Path(folder) / "events.jsonl"
        args = [*OPERATIONS[operation], "--parallel", str(parallel)]
        args += [flag for target in targets for flag in ("--target", target)]
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
            environment = {"PULUMI_DEBUG_COMMANDS": "true", **workspace.env_vars, **env}
            workspace.pulumi_command.run(args, workspace.work_dir, environment)
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


@dataclass(frozen=True)
class StackRun:
    """One shard's stack as this run opened it. ``outputs``: ``previous`` parsed (``outputs.py``);
    construction raises FleetError when they have another shape. What an operation on it did is
    its ``results.StackResult``."""

    name: str
    stack: auto.Stack | None  # None: a shard another job runs, with no stack yet (``Fleet.open(only=…)``)
    users: list[User]
    digest: str
    previous: dict  # its outputs from the last update, as read; a secret one "[secret]" unless secrets_shown
    secrets_shown: bool = False
    resource_count: int | None = None  # resources in its checkpoint when opened (None: not known)
    outputs: StackOutputs = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "outputs", StackOutputs.parse(self.previous, self.name))  # a frozen field

    @property
    def user_ids(self) -> tuple[str, ...]:
        return tuple(user.id for user in self.users)

    def users_now_and_before(self) -> set[str]:
        """The ids of its users now and at its stack's last update."""
        return {user.id for user in self.users} | set(self.outputs.roster_state)

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
        if self.outputs.fleet_digest != self.digest:
            return False
        last = self.stack.history(page_size=1, show_secrets=False)
        return bool(last) and last[0].kind == "update" and last[0].result == "succeeded"


class ListedStackWorkspace(auto.LocalWorkspace):
    """A LocalWorkspace for a shard stack that ``pulumi stack ls`` has just listed: selecting it
    runs nothing. Every command the fleet runs names its stack (``--stack``), so the workspace's
    current stack does not matter to it, while ``pulumi stack select`` is one more CLI run per
    shard and left the last shard selected for plain ``pulumi`` commands."""

    def select_stack(self, stack_name: str) -> None:
        return None


def last_error_line(error: auto.CommandError) -> str:
    """The CLI's last error line, a URL's password masked (the backend's can appear in it)."""
    lines = [line.strip() for line in str(error).splitlines() if "error:" in line]
    return without_passwords((lines[-1] if lines else str(error).strip().splitlines()[-1])[:500])


def without_passwords(text: str) -> str:
    """``text`` with the password of any URL in it masked (``postgres://user:***@host``)."""
    return re.sub(r"(\w+://[^:/\s@]+:)[^@\s]+@", r"\1***@", text)
