"""``FlyGateway``: one user's gateway on Fly.io Machines.

Children, named after the user's instance name, in the order Fly needs them: ``GatewayToken`` →
``App`` (with its shared IPv4 and IPv6, so ``<app>.fly.dev`` resolves) → ``Volume`` (encrypted) →
``AppSecrets`` (token, provider keys) → ``Machine`` (made or changed, then waited for until ready) → the
post-provision commands.
"""

from __future__ import annotations

import pulumi

from openclaw_fleet.gateway.component import GATEWAY_COMMAND, STATE_DIR, Gateway, GatewayArgs
from openclaw_fleet.gateway.openclaw_config import GATEWAY_PORT, render_config_text
from openclaw_fleet.providers.fly.app import App, AppArgs
from openclaw_fleet.providers.fly.machine import Machine, MachineArgs
from openclaw_fleet.providers.fly.secrets import AppSecrets, AppSecretsArgs
from openclaw_fleet.providers.fly.volume import Volume, VolumeArgs
from openclaw_fleet.providers.token import AdoptFrom
from openclaw_fleet.roster import User, guest

FLY_VOLUME_NAME = "openclaw_data"


class FlyGateway(Gateway):
    """A user's Fly app (with its addresses), volume, secrets and machine; see ``GatewayArgs``."""

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("openclaw:fleet:FlyGateway", name, args, opts)
        user, settings, child = args.user, args.settings, self.child
        secret_env = self._token(args, AdoptFrom(target="fly", app=name))
        # A kept app holds a retained volume, or the snapshots of a deleted one.
        app = App(
            name,
            AppArgs(name=name, org_slug=settings.fly_org, adopt=user.adopt or args.returning),
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=user.deprovision != "delete")),
        )
        # The children name the app by its name, which the program knows, rather than by the App's
        # output: an output records the App's URN as a property dependency of each (about 1 KB a user
        # in the checkpoint). Ordering stays: Volume and AppSecrets depend on the App, the rest on them.
        after_app = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[app]))
        volume = Volume(
            name,
            VolumeArgs(
                app=name,
                name=FLY_VOLUME_NAME,
                region=user.region,
                size_gb=settings.volume_size_gb,
                encrypted=True,
                snapshot_retention=settings.snapshot_retention_days,
                deprovision=user.deprovision,
                adopt=user.adopt,
                restore_from_volume=args.departed_volume_id if user.restore == "latest" else None,
                restore_snapshot=args.restore_snapshot,
            ),
            pulumi.ResourceOptions.merge(
                after_app, pulumi.ResourceOptions(retain_on_delete=user.deprovision == "retain")
            ),
        )
        secrets = AppSecrets(name, AppSecretsArgs(app=name, values=secret_env), after_app)
        origin = f"https://{name}.fly.dev"
        config = pulumi.Output.all(args.image_ref, volume.id).apply(
            lambda values: machine_config(user, values[0], values[1], settings.stack_label, origin, settings.autostop)
        )
        machine = Machine(
            name,
            MachineArgs(
                app=name,
                name=name,
                region=user.region,
                config=config,
                min_secrets_version=secrets.version,
                state=user.state,
                adopt=user.adopt,
                health_timeout_s=settings.health_timeout_s,
                user_id=user.id,
            ),
            child,
        )
        self.gateway_url = pulumi.Output.from_input(origin)
        self.instance_id, self.volume_id, self.state = machine.id, volume.id, machine.status
        self._post_provision(user, {"target": "fly", "app": name, "machine_id": machine.id}, machine)
        self.register_outputs({})  # its outputs are its children's (gateway.component)


def machine_config(
    user: User, image_ref: str, volume_id: str, stack_label: str, origin: str, autostop: str = "off"
) -> dict:
    """The fly.MachineConfig of a user's gateway (fields as in the Machines API spec).

    The token and provider keys are app secrets, which Fly puts in the machine's env, never in
    this config; ``openclaw.json`` has no secret, so it is a plain file (``text``; the client
    sends it as the API's base64 ``raw_value``). Services: 443 (tls + http) and 80 (http,
    ``force_https``: Fly's proxy redirects to 443, as OpenClaw's fly.toml sets) to the gateway
    port, ``autostop`` as the stack says (``off``: a gateway holds channel connections open); an
    HTTP check on ``/health`` with a grace period as long as a cold gateway start. Metadata:
    ``fly_process_group: app`` (the PROCESS GROUP column of ``fly machines list``, as machines
    ``fly deploy`` makes carry it) and the user and stack this project manages it for.
    """
    return {
        "image": image_ref,
        "init": {"cmd": GATEWAY_COMMAND},
        "guest": guest(user),
        "env": {**user.env, "OPENCLAW_STATE_DIR": STATE_DIR},
        "services": [
            {
                "protocol": "tcp",
                "internal_port": GATEWAY_PORT,
                "autostart": True,
                "autostop": autostop,
                "ports": [
                    {"port": 443, "handlers": ["tls", "http"]},
                    {"port": 80, "handlers": ["http"], "force_https": True},
                ],
            }
        ],
        "checks": {
            "health": {
                "type": "http",
                "port": GATEWAY_PORT,
                "path": "/health",
                "method": "GET",
                "interval": "15s",
                "timeout": "5s",
                "grace_period": "240s",
            }
        },
        "mounts": [{"volume": volume_id, "path": STATE_DIR, "name": FLY_VOLUME_NAME}],
        "files": [
            {"guest_path": f"{STATE_DIR}/openclaw.json", "mode": 0o600, "text": render_config_text(user, [origin])}
        ],
        "restart": {"policy": "always"},
        "metadata": {"fly_process_group": "app", "openclaw-fleet-user": user.id, "openclaw-fleet-stack": stack_label},
    }
