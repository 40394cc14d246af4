"""The gateway token of one user: 256 bits from the OS CSPRNG, kept as a Pulumi secret.

The token is generated once, inside the provider, and lives only in (encrypted) state; it is the
same on every run until ``rotation`` changes, which replaces the token and so updates exactly
that user's gateway. Seed 000 stored a random UUID per user; seed 002 shows why it must always be
set (`--bind lan` refuses to start without it).

Adoption (issue 4): with ``adopt`` set to where an existing gateway runs (``{"target": "fly",
"app": …}`` or ``{"target": "docker", "container": …}``), create keeps that gateway's token (from
its ``OPENCLAW_GATEWAY_TOKEN`` env, or seed 000's ``--token`` in ``init.cmd``) so the users'
stored tokens keep working; it generates one only when none is found.
"""

import secrets
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource

from components.targets import GatewayTargetProvider

TOKEN_BYTES = 32  # 256 bits


class GatewayTokenProvider(GatewayTargetProvider):
    """Inputs: ``rotation`` (int), ``adopt`` (None or where to look). Outputs: ``rotation``, ``token``
    (secret, 64 hex chars unless adopted), ``adopted`` (bool)."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        existing = self._existing(props["adopt"]) if props.get("adopt") and not props["rotation"] else None
        token = existing or secrets.token_hex(TOKEN_BYTES)
        return CreateResult(f"token-{secrets.token_hex(8)}", outs={
            "rotation": props["rotation"], "adopt": props.get("adopt"), "token": token, "adopted": bool(existing)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("rotation") != news["rotation"]
        return DiffResult(changes=changed, replaces=["rotation"] if changed else [])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def _existing(self, where: dict[str, Any]) -> str | None:
        if where["target"] == "fly":
            with self.fly() as fly:
                machines = fly.call("GET", f"/apps/{where['app']}/machines", ok_404=True) or []
            configs = [m.get("config") or {} for m in machines if m.get("state") != "destroyed"]
            envs = [c.get("env") or {} for c in configs]
            cmds = [(c.get("init") or {}).get("cmd") or [] for c in configs]
        else:
            with self.docker() as docker:
                found = docker.inspect_container(where["container"]) or {}
            config = found.get("Config") or {}
            envs = [dict(e.split("=", 1) for e in config.get("Env") or [] if "=" in e)]
            cmds = [config.get("Cmd") or []]
        for env in envs:
            if env.get("OPENCLAW_GATEWAY_TOKEN"):
                return env["OPENCLAW_GATEWAY_TOKEN"]
        for cmd in cmds:
            if "--token" in cmd[:-1]:
                return cmd[cmd.index("--token") + 1]
        return None


class GatewayToken(Resource, module="fleet", name="GatewayToken"):
    """A user's gateway token; ``token`` is a secret output."""

    token: pulumi.Output[str]

    def __init__(self, resource_name: str, rotation: int = 0, adopt: dict | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["token"]))
        super().__init__(GatewayTokenProvider(), resource_name,
                         {"rotation": rotation, "adopt": adopt, "token": None, "adopted": None}, opts)
