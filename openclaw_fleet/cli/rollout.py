"""``fleet rollout``: move users to a new gateway image in waves, stopping at the first unhealthy one.

After the ``up`` that builds the image (``fleet rollout`` first does what ``fleet up`` does; users
already in the stack keep their recorded image, ``openclaw_fleet/user_images.py``), the users whose
recorded image is not the one just built are moved in waves: ``--waves 1,5,25`` takes a canary
user, then 5, then 25 at a time until all are done (the last size repeats). Before a wave, each
of its users' volumes is snapshotted (Fly: a volume snapshot, ``POST …/volumes/{id}/snapshots``;
Docker: a tarball in the snapshot directory), so the state the old version wrote can be brought
back. A wave is ``up`` with only its users released; it is healthy when every gateway of it
passed its health gate (Fly: the machine's checks, which ``fly:Machine`` waits for; Docker: ``GET
/health``).
The first user that fails stops the rollout: the users not reached stay on the old image across
any later ``up``, and the report says which user failed and how to roll them back: the stack
records a user's image only with a successful update, so the next ``fleet up`` puts a user whose
wave failed back on the image recorded for them; their volume snapshot brings back their data if
the new version changed it. ``--back USER`` puts a user who moved, and whose problem shows later,
back on the image they ran before.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from openclaw_fleet.cli.changes import ChangesByUser
from openclaw_fleet.cli.fleet import Fleet
from openclaw_fleet.cli.options import RolloutOptions
from openclaw_fleet.cli.progress import Progress
from openclaw_fleet.cli.stacks import StackRun
from openclaw_fleet.cli.targets import target_client
from openclaw_fleet.environment import RELEASE as RELEASE_ENV
from openclaw_fleet.errors import (
    CannotRun,
    DockerApiError,
    DockerUnreachable,
    FlyApiError,
    FlyUnreachable,
    SnapshotError,
)
from openclaw_fleet.providers.docker.volume import VolumeArgs, snapshot_volume
from openclaw_fleet.providers.fly.client import FlyClient

SNAPSHOT_FAILURES = (SnapshotError, FlyApiError, FlyUnreachable, DockerApiError, DockerUnreachable)


def waves_of(users: list[str], sizes: list[int]) -> list[list[str]]:
    """``users`` cut into waves of ``sizes`` (the last size repeats)."""
    waves, start, index = [], 0, 0
    while start < len(users):
        size = sizes[min(index, len(sizes) - 1)]
        waves.append(users[start : start + size])
        start, index = start + size, index + 1
    return waves


class Snapshots:
    """Takes the pre-upgrade snapshot of a user's volume on the stack's target; ``taken``: user id
    → where it is (a Fly snapshot id or a tarball path)."""

    def __init__(self, fleet: Fleet):
        self.settings, self.root = fleet.settings, fleet.root
        self.taken: dict[str, str] = {}

    def take(self, run: StackRun, user_id: str) -> str:
        """Snapshot the user's volume before their gateway first runs the new image; raises one of
        SNAPSHOT_FAILURES when it cannot be taken (then the wave does not run)."""
        row = run.outputs.roster_state[user_id]
        try:
            client = target_client(self.settings, "taking volume snapshots", self.root)
        except CannotRun as error:
            raise SnapshotError(str(error)) from None
        if isinstance(client, FlyClient):
            with client as fly:
                fly.create_volume_snapshot(row.name, row.volume_id)
                snapshots = fly.list_volume_snapshots(row.name, row.volume_id)
            where = max(snapshots, key=lambda snapshot: snapshot["created_at"])["id"]
        else:
            image = run.outputs.image_of(user_id) or run.outputs.image
            directory = self.settings.snapshots_of(run.stack.name)
            args = VolumeArgs(name=row.volume_id, labels={}, snapshot_dir=directory, helper_image=image)
            with client as docker:
                where = str(snapshot_volume(docker, args))
        self.taken[user_id] = where
        return where

    def how_to_roll_back(self, run: StackRun, user_id: str, old_image: str) -> str:
        """Words and commands that put the user back on ``old_image`` with the data of the snapshot."""
        row = run.outputs.roster_state[user_id]
        where = self.taken.get(user_id, "(none taken)")
        back = (
            f"`bin/fleet up` runs their gateway on {old_image} again (a failed update leaves the image recorded "
            "for them as it was)"
        )
        if self.settings.target == "fly":
            restore = (
                f"if the new version changed their state, make a volume from snapshot {where}: `fly volumes create "
                f"openclaw_data --snapshot-id {where} -a {row.name} -r {row.region or '<region>'}` and "
                "mount it in place of the current one"
            )
        else:
            restore = (
                f"if the new version changed their state, with the gateway stopped: `docker run --rm -v "
                f"{row.volume_id}:/data -v {Path(where).parent}:/snapshots {old_image} sh -c 'rm -rf /data/* && "
                f"tar -xzpf /snapshots/{Path(where).name} -C /data'`"
            )
        return f"{back}; {restore}"


def run_rollout(
    fleet: Fleet, runs: list[StackRun], options: RolloutOptions, out, progress: Progress | None = None
) -> int:
    """Waves after the ``up`` that built the image (``runs`` opened again since, with the outputs
    it left); returns the exit status (0 all moved or nothing to move, 1 a wave failed or a
    snapshot could not be taken, 2 a user of ``--back`` not in the roster). The wave sizes were
    checked when the options were parsed."""
    user_run = {user.id: run for run in runs for user in run.users}
    if options.back:
        run = user_run.get(options.back)
        if run is None:
            out(f"rollout: {options.back} is not a user of this fleet's roster")
            return 2
        return _release(fleet, [run], {options.back: "previous"}, out, progress)[0]
    sizes = list(options.waves)
    built = {run.name: run.outputs.image for run in runs}
    pending = [
        user.id
        for user in fleet.users
        if user.id in user_run and user_run[user.id].outputs.image_of(user.id) != built[user_run[user.id].name]
    ]
    if not pending:
        out(f"rollout: every user runs {next(iter(built.values()), '?')}; nothing to move")
        return 0
    snapshots = Snapshots(fleet)
    for number, wave in enumerate(waves_of(pending, sizes), start=1):
        started = time.monotonic()
        old = {uid: user_run[uid].outputs.image_of(uid) for uid in wave}
        for uid in wave:
            try:
                out(f"rollout: wave {number}: {uid}: volume snapshot {snapshots.take(user_run[uid], uid)}")
            except SNAPSHOT_FAILURES as error:  # no snapshot, no wave
                out(f"rollout: stopped before wave {number}: the snapshot of {uid}'s volume failed: {error}")
                return 1
        stacks = list({user_run[uid].name: user_run[uid] for uid in wave}.values())
        status, report = _release(fleet, stacks, dict.fromkeys(wave, "built"), out, progress)
        failed = [uid for uid in wave if uid in report.failed_users] or (wave if status else [])
        if failed:
            reached = pending.index(wave[0])
            out(f"rollout: stopped at wave {number} ({len(wave)} users): {len(failed)} failed their health gate")
            for uid in failed:
                reason = "; ".join(report.users[uid].errors[:1]) if uid in report.users else "its stack failed"
                out(f"  {uid}: {reason}")
                out(f"    roll back: {snapshots.how_to_roll_back(user_run[uid], uid, old[uid])}")
            out(
                f"rollout: {len(pending) - reached - len(wave)} users not reached stay on their image; "
                f"{reached} moved in earlier waves"
            )
            return 1
        out(f"rollout: wave {number}: {len(wave)} users healthy on the new image ({time.monotonic() - started:.0f} s)")
    out(f"rollout: done, {len(pending)} users moved")
    return 0


def _release(
    fleet: Fleet, runs: list[StackRun], choices: dict[str, str], out, progress: Progress | None
) -> tuple[int, ChangesByUser]:
    """``up`` of ``runs`` with ``choices`` (user id → built/previous) released in each run's
    environment (``user_images.release_choices``); (status, the up's changes by user)."""

    def released(run: StackRun) -> dict[str, str]:
        return {RELEASE_ENV: json.dumps({uid: choices[uid] for uid in run.user_ids if uid in choices})}

    applied = fleet.up(runs, progress, env_of=released)
    for result in applied.stacks:
        if result.error:
            out(f"rollout: {result.stack}: {result.error}")
    failed = any(result.error for result in applied.stacks) or bool(set(choices) & set(applied.by_user.failed_users))
    return (1 if failed else 0), applied.by_user
