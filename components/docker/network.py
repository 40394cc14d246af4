"""A user's own bridge network (Docker Engine API ``/networks``).

Each user's container is the only member of its network, so no two users' gateways can reach
each other (seed 003: container-per-user isolation); a bridge network keeps outbound access, so
the gateway still reaches its model provider. Docker cannot change a network in place: any input
change replaces it. With ``adopt``, an existing network of the same name is taken over.
"""

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource

from components.docker.client import DockerError, DockerProvider


class NetworkProvider(DockerProvider):
    """Inputs: ``name`` (str), ``labels`` (dict). Outputs: the inputs. Id: the network id."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.docker() as docker:
            try:
                network_id = docker.create_network(props["name"], props["labels"])
            except DockerError as error:
                existing = docker.inspect_network(props["name"]) if error.status == 409 and props.get("adopt") else None
                if existing is None:
                    raise
                network_id = existing["Id"]
        return CreateResult(network_id, outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in ("name", "labels") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.docker() as docker:
            found = docker.inspect_network(id_)
        if found is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "name": found["Name"], "labels": found.get("Labels") or {}})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        with self.docker() as docker:
            docker.remove_network(id_)


class Network(Resource, module="docker", name="Network"):
    """A bridge network named ``name`` with ownership ``labels``."""

    name: pulumi.Output[str]
    labels: pulumi.Output[dict]

    def __init__(self, resource_name: str, name: str, labels: dict[str, str], adopt: bool = False,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(NetworkProvider(), resource_name, {"name": name, "labels": labels, "adopt": adopt}, opts)
