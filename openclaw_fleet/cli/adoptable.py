"""``fleet adoptable``: list what ``adopt: true`` would take over, before it does.

Reads the stack's config as ``pulumi config --json`` prints it (on stdin) and the stack's roster,
then asks the stack's target what already exists under each user's names (``roster.naming``):
on Fly the app with its machines, volumes and IP assignments (token ``FLY_API_TOKEN``); on Docker
the container, volume and network. Prints one JSON row per user for whom something exists:
``user_id``, ``name``, ``adopt`` (whether the roster says to), ``managed`` (already carries this
stack's label or none of it differs) and ``found``. Reads only; changes nothing.
"""

import json
import sys
from pathlib import Path

import yaml

from openclaw_fleet.cli.targets import target_client
from openclaw_fleet.errors import FleetError
from openclaw_fleet.providers.docker.client import DockerClient
from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.roster import User, instance_name, load_roster
from openclaw_fleet.settings import NAMESPACE, StackSettings, from_pulumi_config


def fly_findings(users: list[User], prefix: str, fly: FlyClient, stack_label: str) -> list[dict]:
    """Per user whose app exists: the app's machines, volumes and IP addresses."""
    rows = []
    for user in users:
        name = instance_name(prefix, user.id)
        if fly.get_app(name) is None:
            continue
        machines = fly.list_machines(name) or []
        managed = any(
            ((m.get("config") or {}).get("metadata") or {}).get("openclaw-fleet-stack") == stack_label for m in machines
        )
        rows.append(
            {
                "user_id": user.id,
                "name": name,
                "adopt": user.adopt,
                "managed": managed,
                "found": {
                    "app": name,
                    "machines": [
                        {
                            "id": m["id"],
                            "name": m.get("name"),
                            "state": m.get("state"),
                            "image": (m.get("config") or {}).get("image"),
                        }
                        for m in machines
                    ],
                    "volumes": [
                        {
                            "id": v["id"],
                            "name": v["name"],
                            "size_gb": v.get("size_gb"),
                            "attached_machine_id": v.get("attached_machine_id"),
                        }
                        for v in fly.list_volumes(name) or []
                    ],
                    "ips": [ip["ip"] for ip in fly.list_ip_assignments(name) or []],
                },
            }
        )
    return rows


def docker_findings(users: list[User], prefix: str, docker: DockerClient, stack_label: str) -> list[dict]:
    """Per user with a container, volume or network of their name: what each is."""
    rows = []
    for user in users:
        name = instance_name(prefix, user.id)
        container, volume = docker.inspect_container(name), docker.inspect_volume(f"{name}-data")
        network = docker.inspect_network(name)
        if not (container or volume or network):
            continue
        labels = ((container or {}).get("Config") or {}).get("Labels") or {}
        rows.append(
            {
                "user_id": user.id,
                "name": name,
                "adopt": user.adopt,
                "managed": labels.get("openclaw-fleet.stack") == stack_label,
                "found": {
                    "container": container
                    and {
                        "id": container["Id"],
                        "image": container["Config"]["Image"],
                        "running": container["State"]["Running"],
                    },
                    "volume": volume and volume["Name"],
                    "network": network and network["Id"],
                },
            }
        )
    return rows


def main(stack: str) -> None:
    """Print the rows for ``stack``, whose config (``pulumi config --json``, so values from Pulumi
    ESC environments count) comes on stdin."""
    prefix = f"{NAMESPACE}:"
    resolved = from_pulumi_config(json.load(sys.stdin))
    config = {key.removeprefix(prefix): value for key, value in resolved.items() if key.startswith(prefix)}
    project = yaml.safe_load(Path("Pulumi.yaml").read_text())["name"]
    try:
        settings = StackSettings.parse(config, stack, project, f"stack {stack}")
        users = load_roster(settings.roster)
    except FleetError as error:
        sys.exit(f"adoptable: {error}")
    try:
        client = target_client(settings, "adoptable", Path.cwd())
    except FleetError as error:
        sys.exit(f"adoptable: {error}")
    with client:
        findings = fly_findings if isinstance(client, FlyClient) else docker_findings
        rows = findings(users, settings.name_prefix, client, settings.stack_label)
    print(json.dumps(rows, indent=2))
