"""``DockerGateway``: one user's gateway on the local (or a remote) Docker engine.

Children, named after the user's instance name: ``GatewayToken`` → ``Network`` (the user's own
bridge) → ``Volume`` (``<name>-data``) → ``Container`` → the post-provision commands.
"""

from __future__ import annotations

import pulumi

from openclaw_fleet.gateway.component import GATEWAY_COMMAND, STATE_DIR, Gateway, GatewayArgs
from openclaw_fleet.gateway.openclaw_config import GATEWAY_PORT, render_config_text
from openclaw_fleet.providers.docker.container import Container, ContainerArgs
from openclaw_fleet.providers.docker.network import Network, NetworkArgs
from openclaw_fleet.providers.docker.volume import Volume, VolumeArgs
from openclaw_fleet.providers.token import AdoptFrom
from openclaw_fleet.roster import guest


class DockerGateway(Gateway):
    """A user's gateway container with its own network and volume; see ``GatewayArgs``."""

    def __init__(self, name: str, args: GatewayArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("openclaw:fleet:DockerGateway", name, args, opts)
        user, settings = args.user, args.settings
        secret_env = self._token(args, AdoptFrom(target="docker", container=name))
        labels = {"openclaw-fleet.stack": settings.stack_label, "openclaw-fleet.user": user.id}
        size = guest(user)
        network = Network(name, NetworkArgs(name=name, labels=labels, adopt=user.adopt), self.child)
        volume = Volume(
            name,
            VolumeArgs(
                name=f"{name}-data",
                labels=labels,
                deprovision=user.deprovision,
                restore=user.restore,
                snapshot_dir=settings.snapshots_of(settings.stack),
                helper_image=args.image_ref,
                adopt=user.adopt,
            ),
            pulumi.ResourceOptions.merge(
                self.child, pulumi.ResourceOptions(retain_on_delete=user.deprovision == "retain")
            ),
        )
        env = secret_env.apply(lambda secret: {**user.env, **secret, "OPENCLAW_STATE_DIR": STATE_DIR})
        container = Container(
            name,
            ContainerArgs(
                name=name,
                image=args.image_ref,
                command=GATEWAY_COMMAND,
                env=pulumi.Output.secret(env),
                labels=labels,
                network_id=network.id,
                volume_name=volume.id,
                mount_path=STATE_DIR,
                cpus=size["cpus"],
                memory_mb=size["memory_mb"],
                pids_limit=settings.pids_limit,
                restart_policy=settings.restart_policy,
                publish_host=settings.publish_host,
                files={"openclaw.json": render_config_text(user, [f"http://{name}:{GATEWAY_PORT}"])},
                state=user.state,
                health_timeout_s=settings.health_timeout_s,
                adopt=user.adopt,
            ),
            self.child,
        )
        self.gateway_url, self.instance_id = container.gateway_url, container.id
        self.volume_id, self.state = volume.id, container.status
        self._post_provision(user, {"target": "docker", "container": container.id}, container)
        self.register_outputs({})  # its outputs are its children's (gateway.component)
