"""The gateway components (one per target), the gateway image and ``openclaw.json``."""

from __future__ import annotations

import pulumi

from openclaw_fleet.gateway.component import Gateway, GatewayArgs
from openclaw_fleet.gateway.docker import DockerGateway
from openclaw_fleet.gateway.fly import FlyGateway

GATEWAY_TYPES: dict[str, type[Gateway]] = {"docker": DockerGateway, "fly": FlyGateway}


def create_gateway(name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None) -> Gateway:
    """The gateway component of the stack's target (``args.settings.target``: ``docker`` or ``fly``)."""
    return GATEWAY_TYPES[args.settings.target](name, args, opts)
