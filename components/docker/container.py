"""A user's gateway container (Docker Engine API ``/containers``).

The container runs the gateway image's ``openclaw gateway …`` command with the user's env (its
token among it), the state volume at ``mount_path``, CPU/memory/pids limits, a restart policy and
ownership labels, on the user's own network; its gateway port is published only when
``publish_host`` is set (dev stack: loopback only).

Config files (``files``: name → text, e.g. ``openclaw.json``) are written into the volume through
the archive endpoint before the gateway starts, owned by uid 1000 (the image's ``node`` user;
EACCES on /home/node/.openclaw is the failure operators report most).

Readiness: a container is ready only when its gateway answers ``GET /health`` with 200 within
``health_timeout_s`` seconds (over the published port, or from inside the container when none
is published); otherwise the operation fails with the container's last log lines. A container
that fails its first start is removed again, so no half-created container blocks the next run.

Adoption (``adopt``): a container already holding the name (an imperatively started gateway) is
stopped gracefully and replaced by the declared one, on the same volume.

Diff (Docker can change only resources, restart policy and run state in place):
  replace: name, image, command, env, labels, network_id, volume_name, mount_path, publish_host
  update:  cpus, memory_mb, pids_limit, restart_policy, files (rewrite + restart), state
"""

import time
from typing import Any

import httpx
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.docker.client import DockerClient, DockerError, DockerProvider

GATEWAY_PORT = 18789
NODE_UID = 1000
REPLACE_KEYS = ("name", "image", "command", "env", "labels", "network_id", "volume_name", "mount_path",
                "publish_host")
UPDATE_KEYS = ("cpus", "memory_mb", "pids_limit", "restart_policy", "files", "state", "health_timeout_s")
OUTPUT_KEYS = ("gateway_url", "status")


class GatewayNotReady(Exception):
    """The gateway did not answer /health in time; the message carries its last log lines."""


class ContainerProvider(DockerProvider):
    """Dynamic provider for a gateway container. Inputs are documented on ``Container``."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        with self.docker() as docker:
            if props.get("adopt") and docker.inspect_container(props["name"]):
                self.delete(props["name"], props)
            container_id = docker.create_container(props["name"], _container_config(props))
            try:
                docker.put_files(container_id, props["mount_path"], props["files"], NODE_UID, NODE_UID)
                if props["state"] == "running":
                    docker.start_container(container_id)
                    _wait_ready(docker, container_id, props)
            except (DockerError, GatewayNotReady):
                docker.remove_container(container_id)
                raise
            return CreateResult(container_id, outs={**props, **_observed(docker, container_id, props)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_KEYS if olds.get(key) != news.get(key)]
        updates = [key for key in UPDATE_KEYS if olds.get(key) != news.get(key)]
        # A container found stopped (refresh) while the roster says running is an update too.
        if olds.get("status") not in (None, "running") and news["state"] == "running":
            updates.append("state")
        return DiffResult(changes=bool(replaces or updates), replaces=replaces, delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        with self.docker() as docker:
            if any(olds.get(k) != news[k] for k in ("cpus", "memory_mb", "pids_limit", "restart_policy")):
                docker.update_container(id_, _resources(news))
            files_changed = olds.get("files") != news["files"]
            if files_changed:
                docker.put_files(id_, news["mount_path"], news["files"], NODE_UID, NODE_UID)
            running = (docker.inspect_container(id_) or {}).get("State", {}).get("Running", False)
            if news["state"] == "running":
                if not running:
                    docker.start_container(id_)
                elif files_changed:
                    docker.restart_container(id_)
                _wait_ready(docker, id_, news)
            elif running:
                docker.stop_container(id_)
            return UpdateResult(outs={**news, **_observed(docker, id_, news)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.docker() as docker:
            found = docker.inspect_container(id_)
            if found is None:
                return ReadResult(None, {})
            host = found["HostConfig"]
            return ReadResult(id_, {
                **props,
                "image": found["Config"]["Image"],
                "labels": found["Config"].get("Labels") or {},
                "cpus": host["NanoCpus"] / 1e9,
                "memory_mb": host["Memory"] // (1024 * 1024),
                "pids_limit": host["PidsLimit"],
                "restart_policy": host["RestartPolicy"]["Name"],
                **_observed(docker, id_, props, found),
            })

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        """Stop gracefully (SIGTERM, 30 s: the gateway drains and releases its locks), then remove."""
        with self.docker() as docker:
            if (docker.inspect_container(id_) or {}).get("State", {}).get("Running"):
                docker.stop_container(id_, timeout_s=30)
            docker.remove_container(id_)


def _resources(props: dict[str, Any]) -> dict[str, Any]:
    memory = int(props["memory_mb"]) * 1024 * 1024
    return {
        "NanoCpus": int(float(props["cpus"]) * 1e9),
        "Memory": memory,
        "MemorySwap": memory,
        "PidsLimit": int(props["pids_limit"]),
        "RestartPolicy": {"Name": props["restart_policy"]},
    }


def _container_config(props: dict[str, Any]) -> dict[str, Any]:
    port = f"{GATEWAY_PORT}/tcp"
    host_config: dict[str, Any] = {
        **_resources(props),
        "NetworkMode": props["network_id"],
        "Mounts": [{"Type": "volume", "Source": props["volume_name"], "Target": props["mount_path"]}],
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
    }
    if props.get("publish_host"):
        host_config["PortBindings"] = {port: [{"HostIp": props["publish_host"], "HostPort": ""}]}
    return {
        # A stable hostname: OpenClaw's state lease names its owner by host and pid, and can reclaim
        # a dead owner's lease only from the same host; a new random hostname would make a
        # replacement container wait out the lease's five-minute TTL.
        "Hostname": props["name"],
        "Image": props["image"],
        "Cmd": props["command"],
        "Env": [f"{key}={value}" for key, value in sorted(props["env"].items())],
        "Labels": props["labels"],
        "ExposedPorts": {port: {}},
        "HostConfig": host_config,
    }


def _observed(docker: DockerClient, container_id: str, props: dict[str, Any], found: dict | None = None) -> dict:
    """The outputs read from the engine: ``status`` (running/stopped) and ``gateway_url``."""
    found = found or docker.inspect_container(container_id) or {}
    running = found.get("State", {}).get("Running", False)
    url = f"http://{props['name']}:{GATEWAY_PORT}"
    if props.get("publish_host"):
        port = _host_port(found)  # None while stopped: the engine assigns the host port at start
        url = f"http://{props['publish_host']}:{port}" if port else None
    return {"status": "running" if running else "stopped", "gateway_url": url}


def _host_port(found: dict) -> str | None:
    """The host port the gateway port is published on, from a container inspection."""
    bindings = (found.get("NetworkSettings", {}).get("Ports") or {}).get(f"{GATEWAY_PORT}/tcp") or []
    return bindings[0]["HostPort"] if bindings else None


def _wait_ready(docker: DockerClient, container_id: str, props: dict[str, Any]) -> None:
    """Poll the gateway's /health until 200; raise GatewayNotReady with its logs on timeout or exit."""
    deadline = time.monotonic() + float(props["health_timeout_s"])
    while time.monotonic() < deadline:
        found = docker.inspect_container(container_id) or {}
        state = found.get("State", {})
        if not state.get("Running") and not state.get("Restarting"):
            break
        if _health_ok(docker, container_id, props, found):
            return
        time.sleep(1)
    logs = docker.logs(container_id, tail=20)
    raise GatewayNotReady(
        f"gateway {props['name']} (user {props['labels'].get('openclaw-fleet.user', '?')}) did not answer "
        f"GET /health with 200 within {props['health_timeout_s']}s; last log lines:\n{logs}"
    )


def _health_ok(docker: DockerClient, container_id: str, props: dict[str, Any], found: dict) -> bool:
    port = _host_port(found)
    if props.get("publish_host") and port:
        try:
            return httpx.get(f"http://{props['publish_host']}:{port}/health", timeout=3.0).status_code == 200
        except httpx.HTTPError:
            return False
    probe = f"fetch('http://127.0.0.1:{GATEWAY_PORT}/health').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"
    try:
        return docker.exec_run(container_id, ["node", "-e", probe])[0] == 0
    except DockerError:
        return False


class Container(Resource, module="docker", name="Container"):
    """A gateway container.

    Inputs: ``name``; ``image`` (digest reference); ``command`` (list); ``env`` (dict, secret);
    ``labels``; ``network_id``; ``volume_name``; ``mount_path``; ``cpus`` (float); ``memory_mb``;
    ``pids_limit``; ``restart_policy`` (``unless-stopped`` …); ``publish_host`` (host address
    to publish the gateway port on, or None); ``files`` (name → text written into the volume);
    ``state`` (``running``/``stopped``); ``health_timeout_s``.
    Outputs: the inputs, ``status`` (observed run state) and ``gateway_url``.
    """

    status: pulumi.Output[str]
    gateway_url: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
            additional_secret_outputs=["env"], delete_before_replace=True))
        super().__init__(ContainerProvider(), resource_name, {**props, **dict.fromkeys(OUTPUT_KEYS)}, opts)
