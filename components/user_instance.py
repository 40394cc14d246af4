"""UserInstance: everything one roster user gets, on the stack's target.

Docker target children (all named after the user's instance name, seed 000's rule):
``GatewayToken`` → ``Network`` (the user's own bridge) → ``Volume`` → ``Container``.

Outputs: ``gateway_url``, ``token`` (secret), ``container_id``, ``volume_id``, ``state``.
"""

import pulumi

from components.docker.container import Container
from components.docker.network import Network
from components.docker.volume import Volume
from components.naming import instance_name
from components.openclaw_config import GATEWAY_PORT, render_config_text
from components.roster import SIZE_PRESETS, User
from components.stack_config import StackSettings
from components.token import GatewayToken

STATE_DIR = "/home/node/.openclaw"  # seed 000: the image runs as `node`; /root/.openclaw is wrong
GATEWAY_COMMAND = ["gateway", "--allow-unconfigured", "--bind", "lan", "--auth", "token"]


class UserInstance(pulumi.ComponentResource):
    """One user's gateway. Args: the resolved ``user``, the image digest reference ``image_ref``,
    the stack ``settings`` and the user's ``provider_keys`` (env name → secret Output)."""

    def __init__(self, user: User, image_ref: pulumi.Input[str], settings: StackSettings,
                 provider_keys: dict[str, pulumi.Output[str]], opts: pulumi.ResourceOptions | None = None):
        name = instance_name(settings.name_prefix, user.id)
        super().__init__("openclaw:fleet:UserInstance", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = {"openclaw-fleet.stack": settings.stack_label, "openclaw-fleet.user": user.id}
        size = SIZE_PRESETS[user.size]

        token = GatewayToken(name, opts=child)
        network = Network(name, name, labels, child)
        volume = Volume(name, f"{name}-data", labels, child)
        env = pulumi.Output.all(token.token, pulumi.Output.all(**provider_keys) if provider_keys else {}).apply(
            lambda args: {
                **user.env,
                **args[1],
                "OPENCLAW_GATEWAY_TOKEN": args[0],
                "OPENCLAW_STATE_DIR": STATE_DIR,
            }
        )
        container = Container(name, {
            "name": name,
            "image": image_ref,
            "command": GATEWAY_COMMAND,
            "env": pulumi.Output.secret(env),
            "labels": labels,
            "network_id": network.id,
            "volume_name": volume.id,
            "mount_path": STATE_DIR,
            "cpus": size["cpus"],
            "memory_mb": size["memory_mb"],
            "pids_limit": settings.pids_limit,
            "restart_policy": settings.restart_policy,
            "publish_host": settings.publish_host,
            "files": {"openclaw.json": render_config_text(user, [f"http://{name}:{GATEWAY_PORT}"])},
            "state": user.state,
            "health_timeout_s": settings.health_timeout_s,
        }, child)

        self.gateway_url = container.gateway_url
        self.token = token.token
        self.container_id = container.id
        self.volume_id = volume.id
        self.state = container.status
        self.register_outputs({"gateway_url": self.gateway_url, "container_id": self.container_id,
                               "volume_id": self.volume_id, "state": self.state})
