"""Former module paths of the dynamic providers, so that resources stored with them still unpickle.

Importing this module registers each former path (``FORMER_PATHS``) as a module holding today's
classes under their former names, and the providers that moved into ``compat/`` under their
former paths. ``components/__init__.py`` imports it, so that unpickling ``components.fly.…``
finds them; the provider server imports it before it serves.
"""

import sys
from types import ModuleType

from openclaw_fleet.compat import ip_assignment, machine_ready
from openclaw_fleet.providers.base import FleetProvider
from openclaw_fleet.providers.docker.container import ContainerProvider
from openclaw_fleet.providers.docker.image import ImageProvider
from openclaw_fleet.providers.docker.network import NetworkProvider
from openclaw_fleet.providers.docker.volume import VolumeProvider as DockerVolumeProvider
from openclaw_fleet.providers.fly.app import AppProvider
from openclaw_fleet.providers.fly.machine import MachineProvider
from openclaw_fleet.providers.fly.secrets import AppSecretsProvider
from openclaw_fleet.providers.fly.volume import VolumeProvider as FlyVolumeProvider
from openclaw_fleet.providers.gateway_command import GatewayCommandProvider
from openclaw_fleet.providers.token import GatewayTokenProvider

FORMER_PATHS: dict[str, dict[str, type]] = {
    "components.fly": {},
    "components.fly.client": {"FlyProvider": FleetProvider},
    "components.fly.app": {"AppProvider": AppProvider},
    "components.fly.ip_assignment": {"IPAssignmentProvider": ip_assignment.IPAssignmentProvider},
    "components.fly.volume": {"VolumeProvider": FlyVolumeProvider},
    "components.fly.secrets": {"AppSecretsProvider": AppSecretsProvider},
    "components.fly.machine": {
        "MachineProvider": MachineProvider,
        "MachineReadyProvider": machine_ready.MachineReadyProvider,
    },
    "components.docker": {},
    "components.docker.client": {"DockerProvider": FleetProvider},
    "components.docker.network": {"NetworkProvider": NetworkProvider},
    "components.docker.volume": {"VolumeProvider": DockerVolumeProvider},
    "components.docker.container": {"ContainerProvider": ContainerProvider},
    "components.image": {"ImageProvider": ImageProvider},
    "components.token": {"GatewayTokenProvider": GatewayTokenProvider},
    "components.gateway_command": {"GatewayCommandProvider": GatewayCommandProvider},
    "components.targets": {"GatewayTargetProvider": FleetProvider},
}
MOVED = {
    "openclaw_fleet.providers.fly.machine_ready": machine_ready,
    "openclaw_fleet.providers.fly.ip_assignment": ip_assignment,
}

for _path, _classes in FORMER_PATHS.items():
    _module = ModuleType(_path, "former path of openclaw-fleet providers (openclaw_fleet/compat/former_paths.py)")
    _module.__path__ = []  # a package, so that the deeper paths import
    _module.__dict__.update(_classes)
    sys.modules.setdefault(_path, _module)
for _path, _moved in MOVED.items():
    sys.modules.setdefault(_path, _moved)
