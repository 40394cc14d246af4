"""``fleet:GatewayToken``: one user's gateway token, 256 bits from the OS CSPRNG, a Pulumi secret.

The token is generated once, inside the provider, and lives only in (encrypted) state; it is the
same on every run until ``rotation`` changes, which replaces the token and so updates exactly
that user's gateway. A gateway bound beyond loopback refuses to start without one (OpenClaw:
https://docs.openclaw.ai/network), so every user always has one.

Adoption: with ``adopt`` saying where an existing gateway runs, create keeps that gateway's token
(its ``OPENCLAW_GATEWAY_TOKEN`` env, or a ``--token`` argument in its command) so the tokens the
service already stored keep working; it generates one only when none is found.
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult

from openclaw_fleet.providers.base import FleetProvider, FleetResource, ResourceArgs

TOKEN_BYTES = 32  # 256 bits


class AdoptFrom(ResourceArgs):
    """Where an adopted gateway runs: ``target`` and its Fly ``app`` or Docker ``container`` name."""

    omit_unset = True

    target: Literal["docker", "fly"]
    app: str | None = None
    container: str | None = None


class GatewayTokenArgs(ResourceArgs):
    """Inputs: ``rotation`` (raise by one to replace the token) and ``adopt`` (None, or where to
    look for an existing token)."""

    rotation: int = 0
    adopt: AdoptFrom | None = None


class GatewayTokenState(GatewayTokenArgs):
    """The inputs, the ``token`` (64 hex characters unless adopted) and whether it was ``adopted``."""

    token: str | None = None
    adopted: bool | None = None


class GatewayTokenProvider(FleetProvider):
    """Generates (or adopts) the token; only a ``rotation`` change replaces it. Id: ``token-<random>``."""

    args_type = GatewayTokenArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = GatewayTokenArgs.parse(props)
        existing = self._existing(args.adopt) if args.adopt and not args.rotation else None
        token = existing or secrets.token_hex(TOKEN_BYTES)
        state = GatewayTokenState(**args.props(), token=token, adopted=bool(existing))
        return CreateResult(f"token-{secrets.token_hex(8)}", outs=state.props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("rotation") != news["rotation"]
        return DiffResult(changes=changed, replaces=["rotation"] if changed else [])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def _existing(self, where: AdoptFrom) -> str | None:
        if where.target == "fly":
            fly = self.fly()
            configs = [machine.get("config") or {} for machine in fly.list_machines(where.app) or []]
            envs = [config.get("env") or {} for config in configs]
            commands = [(config.get("init") or {}).get("cmd") or [] for config in configs]
        else:
            docker = self.docker()
            config = (docker.inspect_container(where.container) or {}).get("Config") or {}
            envs = [dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)]
            commands = [config.get("Cmd") or []]
        for env in envs:
            if env.get("OPENCLAW_GATEWAY_TOKEN"):
                return env["OPENCLAW_GATEWAY_TOKEN"]
        for command in commands:
            if "--token" in command[:-1]:
                return command[command.index("--token") + 1]
        return None


PROVIDER = GatewayTokenProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class GatewayToken(FleetResource, module="fleet", name="GatewayToken"):
    """A user's gateway token; ``token`` is a secret output."""

    dynamic_provider, state_type = PROVIDER, GatewayTokenState
    secret_outputs = ("token",)
    token: pulumi.Output[str]
