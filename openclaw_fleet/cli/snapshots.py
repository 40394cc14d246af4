"""A rollout's volume snapshots: taken before a user's gateway first runs a new image, and brought
back by ``fleet rollout --back USER --restore``.

Fly: a volume snapshot (``POST …/volumes/{id}/snapshots``); Docker: a tarball in the stack's
snapshot directory (``providers/docker/volume.py``). Docker's is restored in place (the gateway
stopped, the volume emptied and filled from the tarball, the gateway started). Fly cannot fill an
existing volume from a snapshot, so there the newest snapshot is handed to the program
(``OPENCLAW_FLEET_RESTORE``), which replaces the user's volume with one made from it.
"""

from __future__ import annotations

from pathlib import Path

from openclaw_fleet.cli.stacks import StackRun
from openclaw_fleet.cli.targets import target_client
from openclaw_fleet.errors import (
    CannotRun,
    DockerApiError,
    DockerUnreachable,
    FlyApiError,
    FlyUnreachable,
    SnapshotError,
)
from openclaw_fleet.providers.docker.volume import VolumeArgs, restore_volume, snapshot_volume
from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.settings import StackSettings

SNAPSHOT_FAILURES = (SnapshotError, FlyApiError, FlyUnreachable, DockerApiError, DockerUnreachable, CannotRun)


class Snapshots:
    """Takes and restores pre-upgrade snapshots of users' volumes on the stack's target; ``taken``:
    user id → where this run put one (a Fly snapshot id or a tarball path)."""

    def __init__(self, settings: StackSettings, root: Path):
        self.settings, self.root = settings, root
        self.taken: dict[str, str] = {}

    def client(self, what: str):
        """The target's client (``targets.target_client``); raises SnapshotError without one."""
        try:
            return target_client(self.settings, what, self.root)
        except CannotRun as error:
            raise SnapshotError(str(error)) from None

    def docker_args(self, run: StackRun, user_id: str) -> VolumeArgs:
        row = run.outputs.roster_state[user_id]
        image = run.outputs.image_of(user_id) or run.outputs.image
        directory = self.settings.snapshots_of(run.stack.name)
        return VolumeArgs(name=row.volume_id, labels={}, snapshot_dir=directory, helper_image=image)

    def take(self, run: StackRun, user_id: str) -> str:
        """Snapshot the user's volume before their gateway first runs the new image, with the
        gateway stopped meanwhile (started again right after): a copy of a live gateway's SQLite
        state may be torn, and it holds the running gateway's owner lease, which a gateway on
        another machine (a Fly volume restored from it) would wait out for five minutes. Raises
        one of SNAPSHOT_FAILURES when it cannot be taken (then the wave does not run)."""
        row = run.outputs.roster_state[user_id]
        instance = next((machine.id for machine in run.outputs.machines if machine.user_id == user_id), None)
        with self.client("taking volume snapshots") as client:
            if isinstance(client, FlyClient):
                if instance:
                    client.stop_machine(row.name, instance)
                    client.wait_machine(row.name, instance, "stopped", timeout_s=60)
                try:
                    client.create_volume_snapshot(row.name, row.volume_id)
                    snapshots = client.list_volume_snapshots(row.name, row.volume_id)
                finally:
                    if instance:
                        client.start_machine(row.name, instance)
                where = max(snapshots, key=lambda snapshot: snapshot["created_at"])["id"]
            else:
                if instance:
                    client.stop_container(instance)
                try:
                    where = str(snapshot_volume(client, self.docker_args(run, user_id)))
                finally:
                    if instance:
                        client.start_container(instance)
        self.taken[user_id] = where
        return where

    def newest_fly_snapshot(self, run: StackRun, user_id: str) -> str:
        """The id of the newest snapshot of the user's Fly volume. Raises one of SNAPSHOT_FAILURES."""
        row = run.outputs.roster_state[user_id]
        with self.client("reading volume snapshots") as fly:
            snapshots = fly.list_volume_snapshots(row.name, row.volume_id)
        if not snapshots:
            raise SnapshotError(f"volume {row.volume_id} of {row.name} has no snapshot to restore")
        return max(snapshots, key=lambda snapshot: snapshot["created_at"])["id"]

    def restore(self, run: StackRun, user_id: str) -> str:
        """Docker: put the user's volume back as their newest pre-upgrade tarball holds it, with
        their gateway stopped meanwhile; returns the tarball's path. Raises one of
        SNAPSHOT_FAILURES."""
        args = self.docker_args(run, user_id)
        tarballs = sorted(Path(args.snapshot_dir).glob(f"{args.name}-*.tar.gz"))
        if not tarballs:
            raise SnapshotError(f"there is no snapshot of volume {args.name} in {args.snapshot_dir}")
        container = next(row.id for row in run.outputs.machines if row.user_id == user_id)
        with self.client("restoring a volume") as docker:
            docker.stop_container(container)
            try:
                restore_volume(docker, args, tarballs[-1], emptied=True)
            finally:
                docker.start_container(container)
        return str(tarballs[-1])

    def how_to_roll_back(self, user_id: str, old_image: str | None) -> str:
        """Words for a user whose wave failed: the next ``up`` puts them back on ``old_image`` (a
        failed update leaves the image recorded for them as it was); the snapshot holds their data."""
        return (
            f"`bin/fleet up` runs their gateway on {old_image or 'its recorded image'} again (a failed update leaves "
            f"the image recorded for them as it was); snapshot {self.taken.get(user_id, '(none taken)')} holds their "
            "data from before the wave"
        )
