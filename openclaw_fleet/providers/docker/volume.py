"""``docker:Volume``: a user's state volume (Docker Engine API ``/volumes``), mounted at /home/node/.openclaw.

Docker cannot change a volume in place: a name or label change replaces it (and loses its data,
which preview shows as a replacement). Deleting fails with 409 while a container uses it.

Deprovision policy: ``delete`` removes the volume with the user; ``retain`` keeps it (the
resource is registered with ``retain_on_delete``, and a returning user's volume of the same name
is the kept one, data and all, unless it is labelled for another user: then creating fails with
``HeldByAnother`` unless ``adopt``); ``snapshot`` writes a tarball of the volume to
``snapshot_dir/<name>-<UTC time>.tar.gz`` before removing it, and ``restore: latest`` fills a
returning user's new volume from the newest such tarball. Tarballs are made and unpacked by a
short-lived root container of ``helper_image`` (the gateway image: it has tar), with
``snapshot_dir`` bind-mounted, so ``snapshot_dir`` is a path on the Docker host.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from openclaw_fleet.errors import HeldByAnother, SnapshotError
from openclaw_fleet.providers.base import FleetProvider, FleetResource, Input, ResourceArgs
from openclaw_fleet.providers.docker.client import DockerClient

REPLACE_FIELDS = ("name", "labels")
USER_LABEL = "openclaw-fleet.user"
POLICY_FIELDS = ("deprovision", "restore", "snapshot_dir")


class VolumeArgs(ResourceArgs):
    """Inputs: ``name``, ownership ``labels``, ``deprovision`` policy, ``restore``
    (``latest`` or None), ``snapshot_dir`` (a path on the Docker host), ``helper_image`` and
    ``adopt`` (take over a volume of that name labelled for another user)."""

    name: str
    labels: dict[str, str]
    deprovision: Literal["delete", "retain", "snapshot"] = "delete"
    restore: Literal["latest"] | None = None
    snapshot_dir: str
    helper_image: Input[str]
    adopt: bool = False


class VolumeState(VolumeArgs):
    """The inputs, the engine's ``mountpoint`` and ``restored_from`` (the tarball, or None)."""

    mountpoint: str | None = None
    restored_from: str | None = None


class VolumeProvider(FleetProvider):
    """Creates (restoring if asked), reads, and removes (saving if asked) a volume. Id: its name."""

    args_type = VolumeArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = VolumeArgs.parse(props)
        restored_from = None
        docker = self.docker()
        found = docker.inspect_volume(args.name)  # retained when the user left
        owner = ((found or {}).get("Labels") or {}).get(USER_LABEL)
        if owner and owner != args.labels.get(USER_LABEL) and not args.adopt:
            raise HeldByAnother(
                f"Docker volume {args.name} already exists and is labelled for user {owner}, not "
                f"{args.labels.get(USER_LABEL)}; set `adopt: true` on the user only if that data is theirs"
            )
        volume = docker.create_volume(args.name, args.labels)
        if args.restore == "latest" and found is None:
            restored_from = _restore_latest(docker, args)
        state = VolumeState(**args.props(), mountpoint=volume["Mountpoint"], restored_from=restored_from)
        return CreateResult(volume["Name"], outs=state.props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_FIELDS if olds.get(key) != news.get(key)]
        # The policy only matters when the volume is deleted, so it is kept up to date in state.
        policy = any(olds.get(key) != news.get(key) for key in POLICY_FIELDS)
        return DiffResult(changes=bool(replaces) or policy, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old = VolumeState.parse(olds)
        state = VolumeState(
            **VolumeArgs.parse(news).props(), mountpoint=old.mountpoint, restored_from=old.restored_from
        )
        return UpdateResult(outs=state.props())

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        docker = self.docker()
        found = docker.inspect_volume(id_)
        if found is None:
            return ReadResult(None, {})
        return ReadResult(
            id_,
            {**props, "name": found["Name"], "labels": found.get("Labels") or {}, "mountpoint": found["Mountpoint"]},
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        docker = self.docker()
        if props.get("deprovision") == "snapshot" and docker.inspect_volume(id_):
            snapshot_volume(docker, VolumeArgs.parse(props))
        docker.remove_volume(id_)


def snapshot_volume(docker: DockerClient, args: VolumeArgs) -> Path:
    """Save volume ``args.name`` as ``<snapshot_dir>/<name>-<UTC time>.tar.gz`` (a helper container
    of ``args.helper_image`` runs tar); return the file's path. Raises SnapshotError."""
    Path(args.snapshot_dir).mkdir(parents=True, exist_ok=True)
    name = f"{args.name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.tar.gz"
    code, output = docker.run_helper(
        args.helper_image, ["tar", "-czf", f"/snapshots/{name}", "-C", "/data", "."], _mounts(args, read_only_data=True)
    )
    if code != 0:
        raise SnapshotError(
            f"saving volume {args.name} to {args.snapshot_dir} failed: tar exited {code}: {output[-500:]}"
        )
    return Path(args.snapshot_dir) / name


def _restore_latest(docker: DockerClient, args: VolumeArgs) -> str:
    tarballs = sorted(Path(args.snapshot_dir).glob(f"{args.name}-*.tar.gz"))
    if not tarballs:
        raise SnapshotError(f"restore: latest, but there is no snapshot of {args.name} in {args.snapshot_dir}")
    restore_volume(docker, args, tarballs[-1])
    return tarballs[-1].name


def restore_volume(docker: DockerClient, args: VolumeArgs, tarball: Path, emptied: bool = False) -> None:
    """Fill volume ``args.name`` from ``tarball`` (one ``snapshot_volume`` wrote, in
    ``args.snapshot_dir``), first deleting what it holds when ``emptied``; the gateway using it
    must be stopped. Raises SnapshotError."""
    extract = f"tar -xzpf /snapshots/{tarball.name} -C /data"
    script = f"find /data -mindepth 1 -delete && {extract}" if emptied else extract
    code, output = docker.run_helper(args.helper_image, ["sh", "-c", script], _mounts(args, read_only_data=False))
    if code != 0:
        raise SnapshotError(f"restoring volume {args.name} from {tarball.name} failed: exited {code}: {output[-500:]}")


def _mounts(args: VolumeArgs, read_only_data: bool) -> list[dict]:
    return [
        {"Type": "volume", "Source": args.name, "Target": "/data", "ReadOnly": read_only_data},
        {"Type": "bind", "Source": args.snapshot_dir, "Target": "/snapshots"},
    ]


PROVIDER = VolumeProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class Volume(FleetResource, module="docker", name="Volume"):
    """A local-driver volume of one user, with a deprovision policy."""

    dynamic_provider, state_type = PROVIDER, VolumeState
    name: pulumi.Output[str]
    mountpoint: pulumi.Output[str]
    restored_from: pulumi.Output[str]
