"""A user's state volume (Docker Engine API ``/volumes``), mounted at /home/node/.openclaw.

Docker cannot change a volume in place: a name or label change replaces it (and loses its data,
which preview shows as a replacement). Deleting fails with 409 while a container uses it.

Deprovision policy (issue 4, seed 002): ``delete`` removes the volume with the user; ``retain``
keeps it (the resource is registered with ``retain_on_delete``, and a returning user's volume of
the same name is the kept one, data and all); ``snapshot`` writes a tarball of the volume to
``snapshot_dir/<name>-<UTC time>.tar.gz`` before removing it, and ``restore: latest`` fills a
returning user's new volume from the newest such tarball. Tarballs are made and unpacked by a
short-lived root container of ``helper_image`` (the gateway image: it has tar), with
``snapshot_dir`` bind-mounted, so ``snapshot_dir`` is a path on the Docker host.
"""

import time
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.docker.client import DockerClient, DockerError, DockerProvider

REPLACE_KEYS = ("name", "labels")
POLICY_KEYS = ("deprovision", "restore", "snapshot_dir")


class VolumeProvider(DockerProvider):
    """Inputs: ``name``, ``labels``, ``deprovision``, ``restore``, ``snapshot_dir``, ``helper_image``.
    Outputs: the inputs, ``mountpoint`` and ``restored_from`` (tarball, or None). Id: the name."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        restored_from = None
        with self.docker() as docker:
            existed = docker.inspect_volume(props["name"]) is not None  # retained when the user left
            volume = docker.create_volume(props["name"], props["labels"])
            if props.get("restore") == "latest" and not existed:
                restored_from = _restore_latest(docker, props)
        return CreateResult(volume["Name"], outs={**props, "mountpoint": volume["Mountpoint"],
                                                  "restored_from": restored_from})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_KEYS if olds.get(key) != news.get(key)]
        # The policy only matters when the volume is deleted, so it is kept up to date in state.
        policy = any(olds.get(key) != news.get(key) for key in POLICY_KEYS)
        return DiffResult(changes=bool(replaces) or policy, replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**olds, **news})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.docker() as docker:
            found = docker.inspect_volume(id_)
        if found is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "name": found["Name"], "labels": found.get("Labels") or {},
                                "mountpoint": found["Mountpoint"]})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.docker() as docker:
            if props.get("deprovision") == "snapshot" and docker.inspect_volume(id_):
                _snapshot(docker, props)
            docker.remove_volume(id_)


def _snapshot(docker: DockerClient, props: dict[str, Any]) -> None:
    Path(props["snapshot_dir"]).mkdir(parents=True, exist_ok=True)
    name = f"{props['name']}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.tar.gz"
    code, output = docker.run_helper(props["helper_image"], ["tar", "-czf", f"/snapshots/{name}", "-C", "/data", "."],
                                     _mounts(props, read_only_data=True))
    if code != 0:
        raise DockerError("POST", "/containers/create", 500, f"snapshot of volume {props['name']} failed: {output}")


def _restore_latest(docker: DockerClient, props: dict[str, Any]) -> str:
    tarballs = sorted(Path(props["snapshot_dir"]).glob(f"{props['name']}-*.tar.gz"))
    if not tarballs:
        raise DockerError("POST", "/volumes/create", 404,
                          f"restore: latest, but there is no snapshot of {props['name']} in {props['snapshot_dir']}")
    code, output = docker.run_helper(props["helper_image"],
                                     ["tar", "-xzpf", f"/snapshots/{tarballs[-1].name}", "-C", "/data"],
                                     _mounts(props, read_only_data=False))
    if code != 0:
        raise DockerError("POST", "/containers/create", 500, f"restore of volume {props['name']} failed: {output}")
    return tarballs[-1].name


def _mounts(props: dict[str, Any], read_only_data: bool) -> list[dict]:
    return [{"Type": "volume", "Source": props["name"], "Target": "/data", "ReadOnly": read_only_data},
            {"Type": "bind", "Source": props["snapshot_dir"], "Target": "/snapshots"}]


class Volume(Resource, module="docker", name="Volume"):
    """A local-driver volume named ``name`` with ownership ``labels`` and a deprovision policy."""

    name: pulumi.Output[str]
    labels: pulumi.Output[dict]
    mountpoint: pulumi.Output[str]
    restored_from: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(VolumeProvider(), resource_name, {**props, "mountpoint": None, "restored_from": None}, opts)
