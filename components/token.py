"""The gateway token of one user: 256 bits from the OS CSPRNG, kept as a Pulumi secret.

The token is generated once, inside the provider, and lives only in (encrypted) state; it is the
same on every run until ``rotation`` changes, which replaces the token and so updates exactly
that user's gateway. Seed 000 stored a random UUID per user; seed 002 shows why it must always be
set (`--bind lan` refuses to start without it).
"""

import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

TOKEN_BYTES = 32  # 256 bits


class GatewayTokenProvider(ResourceProvider):
    """Inputs: ``rotation`` (int). Outputs: ``rotation``, ``token`` (secret, 64 hex chars)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        token = secrets.token_hex(TOKEN_BYTES)
        return CreateResult(f"token-{secrets.token_hex(8)}", outs={"rotation": props["rotation"], "token": token})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("rotation") != news["rotation"]
        return DiffResult(changes=changed, replaces=["rotation"] if changed else [])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)


class GatewayToken(Resource, module="fleet", name="GatewayToken"):
    """A user's gateway token; ``token`` is a secret output."""

    token: pulumi.Output[str]

    def __init__(self, resource_name: str, rotation: int = 0, opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["token"]))
        super().__init__(GatewayTokenProvider(), resource_name, {"rotation": rotation, "token": None}, opts)
