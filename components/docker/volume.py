"""A user's state volume (Docker Engine API ``/volumes``), mounted at /home/node/.openclaw.

Docker cannot change a volume in place: a name or label change replaces it (and loses its data,
which preview shows as a replacement). Deleting fails with 409 while a container uses it.
"""

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource

from components.docker.client import DockerProvider


class VolumeProvider(DockerProvider):
    """Inputs: ``name`` (str), ``labels`` (dict). Outputs: the inputs and ``mountpoint``. Id: the name."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.docker() as docker:
            volume = docker.create_volume(props["name"], props["labels"])
        return CreateResult(volume["Name"], outs={**props, "mountpoint": volume["Mountpoint"]})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in ("name", "labels") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.docker() as docker:
            found = docker.inspect_volume(id_)
        if found is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "name": found["Name"], "labels": found.get("Labels") or {},
                                "mountpoint": found["Mountpoint"]})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        with self.docker() as docker:
            docker.remove_volume(id_)


class Volume(Resource, module="docker", name="Volume"):
    """A local-driver volume named ``name`` with ownership ``labels``."""

    name: pulumi.Output[str]
    labels: pulumi.Output[dict]
    mountpoint: pulumi.Output[str]

    def __init__(self, resource_name: str, name: str, labels: dict[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(VolumeProvider(), resource_name, {"name": name, "labels": labels, "mountpoint": None}, opts)
