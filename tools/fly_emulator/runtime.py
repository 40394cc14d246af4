"""Run emulated Fly machines as real Docker containers (optional; ``Emulator(runtime=DockerRuntime())``).

A machine that reaches ``started`` becomes a container of its ``config.image`` running
``init.cmd``, with ``config.env`` plus the app's secrets in its environment (as Fly injects them),
each mounted Fly volume as a Docker volume ``flyemu-<volume id>`` at its path, ``config.files``
written in before start (owned by uid 1000), and every service's ``internal_port`` published on
127.0.0.1. Its checks are then real: an HTTP check passes when the gateway answers it with 200.
``stopped`` stops the container, ``destroyed`` removes it; an update replaces it on restart. With a
``helper_image`` (any image with ``sh`` and ``cp``), a volume snapshot copies the volume's files
into a Docker volume ``flyemu-snap-<snapshot id>``, and a volume made from a snapshot starts with
them, as on Fly.

Simplification: Fly gives a machine the secrets of its ``min_secrets_version``; this runtime
gives it the app's current values.
"""

from __future__ import annotations

import base64
import posixpath

import httpx

from openclaw_fleet.providers.docker.client import docker_client
from openclaw_fleet.settings import DEFAULT_DOCKER_HOST

LABEL = "openclaw-fleet.fly-emulator"


class DockerRuntime:
    """Containers for emulated machines, on the Docker engine at ``host``."""

    def __init__(self, host: str = DEFAULT_DOCKER_HOST, helper_image: str | None = None):
        self.host, self.helper_image = host, helper_image
        self.ports: dict[str, dict[int, int]] = {}  # machine id → internal port → host port

    def url(self, machine_id: str, internal_port: int) -> str | None:
        """http://127.0.0.1:<host port> of a running machine's internal port, or None."""
        port = self.ports.get(machine_id, {}).get(internal_port)
        return f"http://127.0.0.1:{port}" if port else None

    def start(self, machine, secrets: dict[str, str]) -> None:
        config = machine.config
        name = f"flyemu-{machine.id}"
        internal_ports = sorted({s["internal_port"] for s in config.get("services") or []})
        with docker_client(self.host) as docker:
            docker.remove_container(name)
            for mount in config.get("mounts") or []:
                docker.create_volume(f"flyemu-{mount['volume']}", {LABEL: "volume"})
            env = {**(config.get("env") or {}), **secrets}
            container = docker.create_container(
                name,
                {
                    "Hostname": machine.id,  # as on Fly: a machine's hostname is its id
                    "Image": config["image"],
                    "Cmd": (config.get("init") or {}).get("cmd"),
                    "Env": [f"{k}={v}" for k, v in sorted(env.items())],
                    "Labels": {LABEL: machine.id},
                    "ExposedPorts": {f"{p}/tcp": {} for p in internal_ports},
                    "HostConfig": {
                        "Mounts": [
                            {"Type": "volume", "Source": f"flyemu-{m['volume']}", "Target": m["path"]}
                            for m in config.get("mounts") or []
                        ],
                        "PortBindings": {f"{p}/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}] for p in internal_ports},
                    },
                },
            )
            for file in config.get("files") or []:
                if file.get("raw_value"):
                    directory, filename = posixpath.split(file["guest_path"])
                    docker.put_files(
                        container, directory, {filename: base64.b64decode(file["raw_value"]).decode()}, 1000, 1000
                    )
            docker.start_container(container)
            ports = (docker.inspect_container(container) or {}).get("NetworkSettings", {}).get("Ports") or {}
        self.ports[machine.id] = {
            p: int(ports[f"{p}/tcp"][0]["HostPort"]) for p in internal_ports if ports.get(f"{p}/tcp")
        }

    def stop(self, machine) -> None:
        self.ports.pop(machine.id, None)
        with docker_client(self.host) as docker:
            if docker.inspect_container(f"flyemu-{machine.id}"):
                docker.stop_container(f"flyemu-{machine.id}", timeout_s=10)

    def destroy(self, machine) -> None:
        self.ports.pop(machine.id, None)
        with docker_client(self.host) as docker:
            docker.remove_container(f"flyemu-{machine.id}")

    def remove_volume(self, volume_id: str) -> None:
        with docker_client(self.host) as docker:
            docker.remove_volume(f"flyemu-{volume_id}")

    def snapshot(self, volume_id: str, snapshot_id: str) -> None:
        """Copy the volume's files into the snapshot's own Docker volume (with a helper image)."""
        self._copy(f"flyemu-{volume_id}", f"flyemu-snap-{snapshot_id}")

    def restore(self, snapshot_id: str, volume_id: str) -> None:
        """Fill a new volume with a snapshot's files (with a helper image)."""
        self._copy(f"flyemu-snap-{snapshot_id}", f"flyemu-{volume_id}")

    def _copy(self, source: str, target: str) -> None:
        if not self.helper_image:
            return
        with docker_client(self.host) as docker:
            for name in (source, target):
                docker.create_volume(name, {LABEL: "volume"})
            mounts = [
                {"Type": "volume", "Source": source, "Target": "/from", "ReadOnly": True},
                {"Type": "volume", "Source": target, "Target": "/to"},
            ]
            # The volume's own root too (the gateway's state dir: node's, mode 0700), not only its files.
            script = 'cp -a /from/. /to/ && chown "$(stat -c %u:%g /from)" /to && chmod "$(stat -c %a /from)" /to'
            code, output = docker.run_helper(self.helper_image, ["sh", "-c", script], mounts)
        if code != 0:
            raise RuntimeError(f"copying {source} to {target} failed: {output[-300:]}")

    def exec(self, machine, command: list[str]) -> tuple[int, str]:
        """Run ``command`` in the machine's container; (exit code, output)."""
        with docker_client(self.host) as docker:
            return docker.exec_run(f"flyemu-{machine.id}", command)

    def check(self, machine, check: dict) -> str:
        """``passing`` when an HTTP check's path answers 200 (a TCP check: when the port accepts)."""
        url = self.url(machine.id, check["port"])
        if url is None:
            return "critical"
        try:
            response = httpx.get(url + (check.get("path") or "/"), timeout=2.0)
        except httpx.HTTPError:
            return "critical"
        return "passing" if check.get("type") == "tcp" or response.status_code == 200 else "critical"


class ChecksOnlyRuntime:
    """Nothing runs behind the emulated machines; their HTTP and TCP checks pass, except on the
    machines whose name is in ``failing`` (a gateway that does not come up, for tests)."""

    def __init__(self):
        self.failing: set[str] = set()

    def start(self, machine, secrets: dict[str, str]) -> None:
        pass

    def stop(self, machine) -> None:
        pass

    def destroy(self, machine) -> None:
        pass

    def remove_volume(self, volume_id: str) -> None:
        pass

    def snapshot(self, volume_id: str, snapshot_id: str) -> None:
        pass

    def restore(self, snapshot_id: str, volume_id: str) -> None:
        pass

    def exec(self, machine, command: list[str]) -> tuple[int, str]:
        return 0, ""

    def check(self, machine, check: dict) -> str:
        return "critical" if machine.name in self.failing else "passing"
