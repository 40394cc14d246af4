"""``fleet rollout``: move users to a new gateway image in waves, stopping at the first unhealthy one.

After the ``up`` that builds the image (``fleet rollout`` first does what ``fleet up`` does; users
already in the stack keep their recorded image, ``openclaw_fleet/user_images.py``), the users whose
recorded image is not the one just built are moved in waves, over every shard at once (one canary
for the fleet, never one per shard): ``--waves 1,10%,50%,100%`` takes a canary, then a tenth of the
users to move, then half, then the rest; counts (``1,5,25``) work too and the last size repeats.
``--canary USER`` (repeatable) makes the first wave those users (staff accounts, say).

Before a wave, each of its users' volumes is snapshotted (``snapshots.py``), so the state the old
version wrote can be brought back. A wave is ``up`` with only its users released; it passes when
every gateway of it passed its checks (Fly: the machine's checks, which ``fly:Machine`` waits for;
Docker: ``GET /health``) and then OpenClaw's own health gate (``health_gate.py``: ``openclaw health``
and the model it runs). With ``--bake SECONDS`` every moved gateway is asked again after that long
before the next wave starts. ``--stop-after N`` moves N waves and stops (exit 0): a CI job runs the
canary, and the next job, behind an environment's approval, the rest.

The first user that fails stops the rollout: the users not reached stay on the old image across
any later ``up``, and the report says which user failed and how to roll them back: the stack
records a user's image only with a successful update, so the next ``fleet up`` puts a user whose
wave failed back on the image recorded for them. ``--back USER`` puts a user who moved, and whose
problem shows later, back on the image they ran before; with ``--restore`` their volume too, as
the snapshot taken before their upgrade holds it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from openclaw_fleet.cli import health_gate
from openclaw_fleet.cli.changes import ChangesByUser
from openclaw_fleet.cli.fleet import Fleet
from openclaw_fleet.cli.options import RolloutOptions
from openclaw_fleet.cli.progress import Progress
from openclaw_fleet.cli.snapshots import SNAPSHOT_FAILURES, Snapshots
from openclaw_fleet.cli.stacks import StackRun
from openclaw_fleet.environment import RELEASE as RELEASE_ENV
from openclaw_fleet.environment import RESTORE as RESTORE_ENV

SCHEMA_VERSION = 1  # of the rollout's `--json` document


def waves_of(users: list[str], sizes: tuple[str, ...]) -> list[list[str]]:
    """``users`` cut into waves of ``sizes`` (each a count, or ``N%`` of ``len(users)`` rounded
    up; the last size repeats)."""
    counts = [math.ceil(int(size[:-1]) * len(users) / 100) if size.endswith("%") else int(size) for size in sizes]
    waves, start, index = [], 0, 0
    while start < len(users):
        size = max(1, counts[min(index, len(counts) - 1)])
        waves.append(users[start : start + size])
        start, index = start + size, index + 1
    return waves


@dataclass(frozen=True)
class Wave:
    """One wave: its ``number``, ``users``, wall ``seconds``, and the ``problems`` of each user
    that did not pass (empty when the wave passed)."""

    number: int
    users: tuple[str, ...]
    seconds: float
    problems: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Rollout:
    """What a rollout did: its exit ``status``, the ``waves`` run, the users still to move
    (``pending``) and why it stopped early (``stopped``, None when every user moved)."""

    status: int
    waves: tuple[Wave, ...] = ()
    pending: tuple[str, ...] = ()
    stopped: str | None = None

    def as_document(self) -> dict:
        """The ``--json`` document: ``schema``, ``command``, ``status``, ``waves`` (number, users,
        seconds, problems), ``moved``, ``pending``, ``stopped``."""
        return {
            "schema": SCHEMA_VERSION,
            "command": "rollout",
            "status": self.status,
            "waves": [
                {"number": w.number, "users": list(w.users), "seconds": round(w.seconds, 1), "problems": w.problems}
                for w in self.waves
            ],
            "moved": [uid for wave in self.waves if not wave.problems for uid in wave.users],
            "pending": list(self.pending),
            "stopped": self.stopped,
        }


def plan_waves(pending: list[str], sizes: tuple[str, ...], canaries: tuple[str, ...]) -> list[list[str]]:
    """The waves of ``pending``: the ``canaries`` still to move are the first wave and the other
    sizes cut the rest; without any, ``sizes`` cut them all (the first size is the canary)."""
    chosen = [uid for uid in canaries if uid in pending]
    if not chosen:
        return waves_of(pending, sizes)
    return [chosen, *waves_of([uid for uid in pending if uid not in chosen], sizes[1:] or sizes)]


def pending_users(fleet: Fleet, runs: list[StackRun]) -> list[str]:
    """The users (of ``--user``, if given) whose recorded image is not the one just built, in
    roster order."""
    user_run = {user.id: run for run in runs for user in run.users}
    return [
        user.id
        for user in fleet.users
        if user.id in user_run
        and user_run[user.id].outputs.image_of(user.id) != user_run[user.id].outputs.image
        and (fleet.only_users is None or user.id in fleet.only_users)
    ]


def run_rollout(
    fleet: Fleet, runs: list[StackRun], options: RolloutOptions, out, progress: Progress | None = None
) -> Rollout:
    """Waves after the ``up`` that built the image (``runs`` opened again since, with the outputs
    it left); its status is 0 when all moved, nothing was left to move or ``--stop-after`` was
    reached; 1 when a wave failed its gate or a snapshot could not be taken; 2 for a user of
    ``--back`` or ``--canary`` not in the roster. The wave sizes were checked when parsed."""
    users = {user.id for run in runs for user in run.users}
    unknown = [uid for uid in (options.back, *options.canaries) if uid and uid not in users]
    if unknown:
        out(f"rollout: {', '.join(unknown)}: not a user of this fleet's roster")
        return Rollout(2, stopped="unknown user")
    snapshots = Snapshots(fleet.settings, fleet.root)
    if options.back:
        return back(fleet, runs, options, snapshots, out, progress)
    pending = pending_users(fleet, runs)
    if not pending:
        out(
            f"rollout: every user runs the image just built ({runs[0].outputs.image if runs else '?'}); nothing to move"
        )
        return Rollout(0)
    waves: list[Wave] = []
    plan = plan_waves(pending, options.waves, options.canaries)
    for number, wave in enumerate(plan, start=1):
        left = tuple(uid for later in plan[number - 1 :] for uid in later)
        if options.stop_after is not None and number > options.stop_after:
            out(f"rollout: stopped after {options.stop_after} wave(s) (--stop-after); {len(left)} users still to move")
            return Rollout(0, tuple(waves), left, stopped="--stop-after")
        result, updated = run_wave(fleet, runs, number, wave, snapshots, out, progress)
        waves.append(result)
        if result.problems:
            return stopped_at(result, waves, pending, snapshots, out)
        fresh = {run.name: run for run in updated}  # only the wave's stacks changed
        runs = [fresh.get(run.name, run) for run in runs]
        if options.bake and number < len(plan):
            out(f"rollout: wave {number}: baking {options.bake} s before the next wave")
            time.sleep(options.bake)
            moved = [uid for done in waves for uid in done.users]
            problems = gate(fleet, runs, moved)
            if problems:
                baked = Wave(number, tuple(moved), result.seconds, problems)
                return stopped_at(baked, waves, pending, snapshots, out, after_bake=True)
    out(f"rollout: done, {len(pending)} users moved")
    return Rollout(0, tuple(waves))


def run_wave(
    fleet: Fleet, runs: list[StackRun], number: int, wave: list[str], snapshots: Snapshots, out, progress
) -> tuple[Wave, list[StackRun]]:
    """Snapshot the wave's volumes, release its users (``up``), then ask OpenClaw in each; the
    wave, and its stacks opened again after their up ([] when it did not run)."""
    started = time.monotonic()
    user_run = {user.id: run for run in runs for user in run.users}
    for uid in wave:
        try:
            out(f"rollout: wave {number}: {uid}: volume snapshot {snapshots.take(user_run[uid], uid)}")
        except SNAPSHOT_FAILURES as error:  # no snapshot, no wave
            problem = {uid: [f"the volume snapshot failed: {error}"]}
            return Wave(number, tuple(wave), time.monotonic() - started, problem), []
    stacks = list({user_run[uid].name: user_run[uid] for uid in wave}.values())
    failed, changes = release(fleet, stacks, dict.fromkeys(wave, "built"), out, progress)
    problems = {
        uid: (changes.users[uid].errors[:1] if uid in changes.users and changes.users[uid].errors else failed[uid])
        for uid in wave
        if uid in failed or uid in changes.failed_users
    }
    updated = fleet.reopened(stacks)
    if not problems:
        problems = gate(fleet, updated, wave)
    seconds = time.monotonic() - started
    if not problems:
        out(f"rollout: wave {number}: {len(wave)} users healthy on the new image ({seconds:.0f} s)")
    return Wave(number, tuple(wave), seconds, problems), updated


def gate(fleet: Fleet, runs: list[StackRun], users: list[str]) -> dict[str, list[str]]:
    """``health_gate.check`` of ``users``' gateways as ``runs``' outputs place them; none with the
    stack setting ``rolloutHealthGate: checks`` (the machine's checks, passed by the ``up``, suffice)."""
    if fleet.settings.rollout_gate == "checks":
        return {}
    rows = {row.user_id: row for run in runs for row in run.outputs.machines}
    models = {user.id: user.model for user in fleet.users}
    gateways = [
        health_gate.Gateway(uid, models[uid], rows[uid].app_name or "", rows[uid].id or "")
        for uid in users
        if uid in rows
    ]
    with Snapshots(fleet.settings, fleet.root).client("asking OpenClaw in the gateways") as client:
        return health_gate.check(client, gateways, patience_s=fleet.settings.health_timeout_s)


def stopped_at(
    wave: Wave, waves: list[Wave], pending: list[str], snapshots: Snapshots, out, after_bake=False
) -> Rollout:
    """The rollout stopped at ``wave``: each failed user, why, and how to roll them back."""
    when = "after its bake" if after_bake else f"({len(wave.users)} users)"
    out(f"rollout: stopped at wave {wave.number} {when}: {len(wave.problems)} failed their health gate")
    for uid, problems in wave.problems.items():
        out(f"  {uid}: {'; '.join(problems)}")
        out(f"    roll back: {snapshots.how_to_roll_back(uid, None)}")
    moved = [uid for done in waves if not done.problems for uid in done.users]
    not_reached = [uid for uid in pending if uid not in moved and uid not in wave.users]
    out(f"rollout: {len(not_reached)} users not reached stay on their image; {len(moved)} moved in earlier waves")
    return Rollout(1, tuple(waves), tuple(not_reached), stopped=f"wave {wave.number} failed its health gate")


def back(fleet: Fleet, runs: list[StackRun], options: RolloutOptions, snapshots: Snapshots, out, progress) -> Rollout:
    """``--back USER``: their former image; with ``--restore``, their volume as the newest snapshot
    (the one taken before their upgrade) holds it: on Fly a volume made from it in the same ``up``,
    on Docker filled in place after it."""
    uid = options.back
    run = next(run for run in runs if uid in run.user_ids)
    restores = {}
    if options.restore and fleet.settings.target == "fly":
        try:
            restores[uid] = snapshots.newest_fly_snapshot(run, uid)
        except SNAPSHOT_FAILURES as error:
            out(f"rollout: {uid}: nothing was changed: {error}")
            return Rollout(1, stopped="restore failed")
    failed, changes = release(fleet, [run], {uid: "previous"}, out, progress, restores)
    problems = failed.get(uid, []) + (changes.users[uid].errors if uid in changes.users else [])
    if problems:
        out(f"rollout: {uid} could not be put back: {'; '.join(problems)}")
        return Rollout(1, stopped=f"{uid} could not be put back")
    out(f"rollout: {uid} runs the image they ran before")
    if restores:
        out(f"rollout: {uid}: volume restored from snapshot {restores[uid]} (a new volume made from it)")
    elif options.restore:
        try:
            out(f"rollout: {uid}: volume restored from {snapshots.restore(fleet.reopened([run])[0], uid)}")
        except SNAPSHOT_FAILURES as error:
            out(f"rollout: {uid}: the volume was not restored: {error}")
            return Rollout(1, stopped="restore failed")
    return Rollout(0)


def release(
    fleet: Fleet,
    runs: list[StackRun],
    choices: dict[str, str],
    out,
    progress: Progress | None,
    restores: Mapping[str, str] | None = None,
) -> tuple[dict[str, list[str]], ChangesByUser]:
    """``up`` of ``runs`` with ``choices`` (user id → built/previous) released in each run's
    environment (``user_images.release_choices``), and ``restores`` (user id → Fly volume
    snapshot, ``user_images.restore_snapshots``); (user id → why their stack failed, the up's
    changes by user)."""

    def released(run: StackRun) -> dict[str, str]:
        env = {RELEASE_ENV: json.dumps({uid: choices[uid] for uid in run.user_ids if uid in choices})}
        mine = {uid: snapshot for uid, snapshot in (restores or {}).items() if uid in run.user_ids}
        return env | ({RESTORE_ENV: json.dumps(mine)} if mine else {})

    applied = fleet.up(runs, progress, env_of=released)
    failed = {}
    for run, result in zip(runs, applied.stacks, strict=True):
        if result.error:
            out(f"rollout: {result.stack}: {result.error}")
            failed |= {uid: [f"its stack failed: {result.error}"] for uid in run.user_ids if uid in choices}
    return failed, applied.by_user
