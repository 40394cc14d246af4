"""What both gateway components share: their args, their outputs, the token and the post-provision chain.

A gateway component is everything one roster user gets on one target (``DockerGateway``,
``FlyGateway``). Both have the outputs ``gateway_url``, ``token`` (secret), ``instance_id`` (the
container or machine id), ``volume_id`` and ``state``, so the program and the stack outputs never
ask which target they are on. They are Python attributes only: a component registers no outputs,
since each value is already in the checkpoint as its child's (about 140 bytes a user otherwise).
Their children are named after the user's instance name (``<namePrefix>-u-<shortId>``).

Existing stacks: both were one component type before; each carries it as an alias
(``compat/former_types.py``), so a stack made then sees no replacement.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from openclaw_fleet.compat.former_types import former_gateway_aliases
from openclaw_fleet.providers.gateway_command import GatewayCommand, GatewayCommandArgs
from openclaw_fleet.providers.token import AdoptFrom, GatewayToken, GatewayTokenArgs
from openclaw_fleet.roster import User
from openclaw_fleet.settings import StackSettings

STATE_DIR = "/home/node/.openclaw"  # the image runs as `node`; OpenClaw keeps its state under $HOME
GATEWAY_COMMAND = ["gateway", "--allow-unconfigured", "--bind", "lan", "--auth", "token"]


@dataclass(frozen=True)
class GatewayArgs:
    """Args of a gateway component.

    ``user``: the resolved roster user; ``image_ref``: the gateway image's digest reference;
    ``settings``: the stack's settings; ``provider_keys``: env name → secret Output;
    ``departed_volume_id``: for a returning user, the volume id recorded when they left (Fly's
    ``restore: latest`` restores from its snapshots); ``returning``: the user left with their data
    kept (the stack's ``departed`` record names this same id), so what is kept is theirs to take.
    """

    user: User
    image_ref: pulumi.Input[str]
    settings: StackSettings
    provider_keys: dict[str, pulumi.Output[str]] = field(default_factory=dict)
    departed_volume_id: str | None = None
    returning: bool = False
    restore_snapshot: str | None = None


class Gateway(pulumi.ComponentResource):
    """Base of ``DockerGateway`` and ``FlyGateway``; see the module docstring."""

    gateway_url: pulumi.Output[str]
    token: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    volume_id: pulumi.Output[str]
    state: pulumi.Output[str]

    def __init__(self, type_: str, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None):
        opts = pulumi.ResourceOptions.merge(opts, former_gateway_aliases())
        super().__init__(type_, name, None, opts)
        self.name = name
        self.child = pulumi.ResourceOptions(parent=self)

    def _token(self, args: GatewayArgs, adopt: AdoptFrom) -> pulumi.Output[dict]:
        """Create the user's token (taken from the gateway ``adopt`` names when the user is
        adopted); return the secret env of the gateway: the provider keys and the token."""
        user = args.user
        token = GatewayToken(
            self.name, GatewayTokenArgs(rotation=user.token_rotation, adopt=adopt if user.adopt else None), self.child
        )
        self.token = token.token
        keys = pulumi.Output.all(**args.provider_keys) if args.provider_keys else {}
        return pulumi.Output.all(token.token, keys).apply(
            lambda values: {**values[1], "OPENCLAW_GATEWAY_TOKEN": values[0]}
        )

    def _post_provision(self, user: User, where: dict, ready: pulumi.Resource) -> None:
        """``openclaw models set <model>``, then each Telegram pairing approval once, chained so
        that a gateway runs one command at a time. ``where``: the GatewayCommandArgs that say
        where the gateway runs."""
        steps = [("model", ["openclaw", "models", "set", user.model], False)]
        steps += [
            (f"pairing-{code}", ["openclaw", "pairing", "approve", "telegram", code], True)
            for code in user.telegram_pairings
        ]
        previous = ready
        for suffix, command, once in steps:
            previous = GatewayCommand(
                f"{self.name}-{suffix}",
                GatewayCommandArgs(**where, command=command, user_id=user.id, state=user.state, once=once),
                pulumi.ResourceOptions.merge(self.child, pulumi.ResourceOptions(depends_on=[previous])),
            )
