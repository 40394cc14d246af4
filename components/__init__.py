"""Old import paths of the dynamic providers, kept so that stacks made before the reshape work.

Pulumi's Python SDK pickles each dynamic provider *by reference to its module path* into every
resource's state (``pulumi/dynamic/dynamic.py``: ``serialize_provider``), and unpickles it from
there for ``refresh``, ``destroy`` and the deletes of an ``up``. Stacks created before the code
moved to ``openclaw_fleet/`` name ``components.fly.machine.MachineProvider`` and the like, so
those names must keep resolving. Importing ``components`` registers each old module path as a
small module holding the new classes under their old names; nothing else lives here.
"""

import sys
from types import ModuleType

from openclaw_fleet.providers.base import FleetProvider
from openclaw_fleet.providers.docker.container import ContainerProvider
from openclaw_fleet.providers.docker.image import ImageProvider
from openclaw_fleet.providers.docker.network import NetworkProvider
from openclaw_fleet.providers.docker.volume import VolumeProvider as DockerVolumeProvider
from openclaw_fleet.providers.fly.app import AppProvider
from openclaw_fleet.providers.fly.ip_assignment import IPAssignmentProvider
from openclaw_fleet.providers.fly.machine import MachineProvider
from openclaw_fleet.providers.fly.machine_ready import MachineReadyProvider
from openclaw_fleet.providers.fly.secrets import AppSecretsProvider
from openclaw_fleet.providers.fly.volume import VolumeProvider as FlyVolumeProvider
from openclaw_fleet.providers.gateway_command import GatewayCommandProvider
from openclaw_fleet.providers.token import GatewayTokenProvider

FORMER_PATHS: dict[str, dict[str, type]] = {
    "components.fly": {},
    "components.fly.client": {"FlyProvider": FleetProvider},
    "components.fly.app": {"AppProvider": AppProvider},
    "components.fly.ip_assignment": {"IPAssignmentProvider": IPAssignmentProvider},
    "components.fly.volume": {"VolumeProvider": FlyVolumeProvider},
    "components.fly.secrets": {"AppSecretsProvider": AppSecretsProvider},
    "components.fly.machine": {"MachineProvider": MachineProvider, "MachineReadyProvider": MachineReadyProvider},
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

for _path, _classes in FORMER_PATHS.items():
    _module = ModuleType(_path, "former path of openclaw-fleet providers (see components/__init__.py)")
    _module.__path__ = []  # a package, so that the deeper paths import
    _module.__dict__.update(_classes)
    sys.modules.setdefault(_path, _module)
