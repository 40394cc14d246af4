"""``docker:Network``: a user's own bridge network (Docker Engine API ``/networks``).

Each user's container is the only member of its network, so no two users' gateways can reach
each other; a bridge network keeps outbound access, so the gateway still reaches its model
provider (https://docs.docker.com/engine/network/drivers/bridge/). Docker cannot change a network
in place: any input change replaces it. With ``adopt``, an existing network of the same name is
taken over.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult

from openclaw_fleet.errors import DockerApiError
from openclaw_fleet.providers.base import FleetProvider, FleetResource, ResourceArgs

REPLACE_FIELDS = ("name", "labels")


class NetworkArgs(ResourceArgs):
    """Inputs: the network ``name``, ownership ``labels`` and ``adopt``. They are also its state."""

    name: str
    labels: dict[str, str]
    adopt: bool = False


class NetworkProvider(FleetProvider):
    """Creates (or adopts), reads and removes a network. Id: the network id."""

    args_type = NetworkArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = NetworkArgs.parse(props)
        docker = self.docker()
        try:
            network_id = docker.create_network(args.name, args.labels)
        except DockerApiError as error:
            existing = docker.inspect_network(args.name) if error.status == 409 and args.adopt else None
            if existing is None:
                raise
            network_id = existing["Id"]
        return CreateResult(network_id, outs=args.props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in REPLACE_FIELDS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed, delete_before_replace=True)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        docker = self.docker()
        found = docker.inspect_network(id_)
        if found is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "name": found["Name"], "labels": found.get("Labels") or {}})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        docker = self.docker()
        docker.remove_network(id_)


PROVIDER = NetworkProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class Network(FleetResource, module="docker", name="Network"):
    """A bridge network of one user."""

    dynamic_provider, state_type = PROVIDER, NetworkArgs
    name: pulumi.Output[str]
    labels: pulumi.Output[dict]
