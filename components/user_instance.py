"""UserInstance: everything one roster user gets, on the stack's target.

Docker target (children named after the user's instance name, seed 000's rule):
``GatewayToken`` → ``Network`` (the user's own bridge) → ``Volume`` → ``Container``.

Fly target, seed 000's checklist: ``GatewayToken`` → ``App`` → ``IPAssignment`` (shared v4, v6) →
``Volume`` (1 GB, encrypted) → ``AppSecrets`` (token, provider keys) → ``Machine`` → ``MachineReady``.

Outputs: ``gateway_url``, ``token`` (secret), ``instance_id`` (container or machine id),
``volume_id``, ``state``.
"""

import pulumi

from components.docker.container import Container
from components.docker.network import Network
from components.docker.volume import Volume as DockerVolume
from components.fly.app import App
from components.fly.ip_assignment import IPAssignment
from components.fly.machine import Machine, MachineReady
from components.fly.secrets import AppSecrets
from components.fly.volume import Volume as FlyVolume
from components.gateway_command import GatewayCommand
from components.naming import instance_name
from components.openclaw_config import GATEWAY_PORT, render_config_text
from components.roster import SIZE_PRESETS, User
from components.stack_config import StackSettings
from components.token import GatewayToken

STATE_DIR = "/home/node/.openclaw"  # seed 000: the image runs as `node`; /root/.openclaw is wrong
GATEWAY_COMMAND = ["gateway", "--allow-unconfigured", "--bind", "lan", "--auth", "token"]
FLY_VOLUME_NAME = "openclaw_data"


class UserInstance(pulumi.ComponentResource):
    """One user's gateway. Args: the resolved ``user``, the image digest reference ``image_ref``,
    the stack ``settings``, the user's ``provider_keys`` (env name → secret Output) and, for a
    returning user, ``departed_volume`` (the volume id recorded when they left; Fly restore)."""

    gateway_url: pulumi.Output[str]
    token: pulumi.Output[str]
    instance_id: pulumi.Output[str]
    volume_id: pulumi.Output[str]
    state: pulumi.Output[str]

    def __init__(self, user: User, image_ref: pulumi.Input[str], settings: StackSettings,
                 provider_keys: dict[str, pulumi.Output[str]], departed_volume: str | None = None,
                 opts: pulumi.ResourceOptions | None = None):
        self.name = instance_name(settings.name_prefix, user.id)
        super().__init__("openclaw:fleet:UserInstance", self.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        adopt = None
        if user.adopt:
            adopt = {"target": "fly", "app": self.name} if settings.target == "fly" else \
                {"target": "docker", "container": self.name}
        token = GatewayToken(self.name, rotation=user.token_rotation, adopt=adopt, opts=child)
        self.token = token.token
        secret_env = pulumi.Output.all(token.token, pulumi.Output.all(**provider_keys) if provider_keys else {}).apply(
            lambda args: {**args[1], "OPENCLAW_GATEWAY_TOKEN": args[0]})
        if settings.target == "fly":
            self._fly(user, image_ref, settings, secret_env, child, departed_volume)
        else:
            self._docker(user, image_ref, settings, secret_env, child)
        self.register_outputs({"gateway_url": self.gateway_url, "instance_id": self.instance_id,
                               "volume_id": self.volume_id, "state": self.state})

    def _docker(self, user: User, image_ref: pulumi.Input[str], settings: StackSettings,
                secret_env: pulumi.Output[dict], child: pulumi.ResourceOptions) -> None:
        name = self.name
        labels = {"openclaw-fleet.stack": settings.stack_label, "openclaw-fleet.user": user.id}
        size = SIZE_PRESETS[user.size]
        network = Network(name, name, labels, user.adopt, child)
        volume = DockerVolume(name, {
            "name": f"{name}-data", "labels": labels, "deprovision": user.deprovision, "restore": user.restore,
            "snapshot_dir": settings.snapshot_dir, "helper_image": image_ref,
        }, pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=user.deprovision == "retain")))
        env = secret_env.apply(lambda secret: {**user.env, **secret, "OPENCLAW_STATE_DIR": STATE_DIR})
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
            "adopt": user.adopt,
        }, child)
        self.gateway_url, self.instance_id = container.gateway_url, container.id
        self.volume_id, self.state = volume.id, container.status
        self._operations(user, {"target": "docker", "container": container.id}, container, child)

    def _fly(self, user: User, image_ref: pulumi.Input[str], settings: StackSettings,
             secret_env: pulumi.Output[dict], child: pulumi.ResourceOptions,
             departed_volume: str | None) -> None:
        name = self.name
        # A kept app holds a retained volume, or the snapshots of a deleted one.
        app = App(name, name, settings.fly_org, user.adopt, pulumi.ResourceOptions.merge(
            child, pulumi.ResourceOptions(retain_on_delete=user.deprovision != "delete")))
        IPAssignment(f"{name}-v4", app.name, "shared_v4", child)
        IPAssignment(f"{name}-v6", app.name, "v6", child)
        volume = FlyVolume(name, {
            "app": app.name, "name": FLY_VOLUME_NAME, "region": user.region, "size_gb": settings.volume_size_gb,
            "encrypted": True, "deprovision": user.deprovision, "adopt": user.adopt,
            "restore_from_volume": departed_volume if user.restore == "latest" else None,
        }, pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(retain_on_delete=user.deprovision == "retain")))
        secrets = AppSecrets(name, app.name, secret_env, child)
        config = pulumi.Output.all(image_ref, volume.id).apply(
            lambda args: fly_machine_config(user, args[0], args[1], settings.stack_label, f"https://{name}.fly.dev"))
        machine = Machine(name, {"app": app.name, "name": name, "region": user.region, "config": config,
                                 "min_secrets_version": secrets.version, "state": user.state,
                                 "adopt": user.adopt}, child)
        ready = MachineReady(name, {"app": app.name, "machine_id": machine.id, "instance_id": machine.instance_id,
                                    "machine_status": machine.status, "state": user.state, "timeout_s": settings.health_timeout_s,
                                    "user_id": user.id}, child)
        self.gateway_url = pulumi.Output.from_input(f"https://{name}.fly.dev")
        self.instance_id, self.volume_id, self.state = machine.id, volume.id, ready.status
        self._operations(user, {"target": "fly", "app": app.name, "machine_id": machine.id}, ready, child)

    def _operations(self, user: User, where: dict, ready: pulumi.Resource, child: pulumi.ResourceOptions) -> None:
        """Seed 002's post-provision steps, in one chain so a gateway runs one at a time:
        ``openclaw models set <model>``, then each Telegram pairing approval once."""
        previous = ready
        steps = [("model", ["openclaw", "models", "set", user.model], False)]
        steps += [(f"pairing-{code}", ["openclaw", "pairing", "approve", "telegram", code], True)
                  for code in user.telegram_pairings]
        for suffix, command, once in steps:
            previous = GatewayCommand(f"{self.name}-{suffix}", {
                **where, "command": command, "user_id": user.id, "state": user.state, "once": once,
            }, pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[previous])))


def fly_machine_config(user: User, image_ref: str, volume_id: str, stack_label: str, origin: str) -> dict:
    """The fly.MachineConfig of a user's gateway, per seed 000's checklist.

    The token and provider keys are app secrets (Fly puts them in the machine's env), never in
    this config; ``openclaw.json`` has no secret, so it is a plain file (``text``; the Machine
    provider sends it as the API's base64 ``raw_value``).
    """
    config_text = render_config_text(user, [origin])
    return {
        "image": image_ref,
        "init": {"cmd": GATEWAY_COMMAND},
        "guest": dict(SIZE_PRESETS[user.size]),
        "env": {**user.env, "OPENCLAW_STATE_DIR": STATE_DIR},
        "services": [{
            "protocol": "tcp",
            "internal_port": GATEWAY_PORT,
            "autostart": True,
            "autostop": "off",
            "ports": [{"port": 443, "handlers": ["tls", "http"]}, {"port": 80, "handlers": ["http"]}],
        }],
        "checks": {"health": {"type": "http", "port": GATEWAY_PORT, "path": "/health", "method": "GET",
                              "interval": "15s", "timeout": "5s", "grace_period": "240s"}},
        "mounts": [{"volume": volume_id, "path": STATE_DIR, "name": FLY_VOLUME_NAME}],
        "files": [{"guest_path": f"{STATE_DIR}/openclaw.json", "mode": 0o600, "text": config_text}],
        "restart": {"policy": "always"},
        "metadata": {"openclaw-fleet-user": user.id, "openclaw-fleet-stack": stack_label},
    }
