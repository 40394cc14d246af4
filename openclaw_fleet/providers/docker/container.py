"""``docker:Container``: a user's gateway container (Docker Engine API ``/containers``).

The container runs the gateway image's ``openclaw gateway …`` command with the user's env (its
token among it), the state volume at ``mount_path``, CPU/memory/pids limits, a restart policy and
ownership labels, on the user's own network; its gateway port is published only when
``publish_host`` is set (dev stack: loopback only).

Config files (``files``: name → text, e.g. ``openclaw.json``) are written into the volume through
the archive endpoint before the gateway starts, owned by uid 1000 (the image's ``node`` user;
EACCES on /home/node/.openclaw is the failure operators report most).

Readiness: a container is ready only when its gateway answers ``GET /health`` with 200 within
``health_timeout_s`` seconds (over the published port, or from inside the container when none
is published); otherwise the operation fails with the container's last log lines: at the
timeout, when the container stops, or as soon as a restart policy has restarted a gateway that
keeps exiting (a crash loop) three times. A container that fails its first start is removed
again, so no half-created container blocks the next run.

Adoption (``adopt``): a container already holding the name (an imperatively started gateway) is
stopped gracefully and replaced by the declared one, on the same volume.

Diff (Docker can change only resources, restart policy and run state in place):
  replace: name, image, command, env, labels, network_id, volume_name, mount_path, publish_host
  update:  cpus, memory_mb, pids_limit, restart_policy, files (rewrite + restart), state
"""

import time
from typing import Any, Literal, NoReturn

import httpx
import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from openclaw_fleet.errors import DockerApiError, DockerUnreachable, GatewayNotReady
from openclaw_fleet.providers.base import FleetProvider, FleetResource, Input, ResourceArgs
from openclaw_fleet.providers.docker.client import DockerClient

GATEWAY_PORT = 18789
NODE_UID = 1000
REPLACE_FIELDS = (
    "name",
    "image",
    "command",
    "env",
    "labels",
    "network_id",
    "volume_name",
    "mount_path",
    "publish_host",
)
UPDATE_FIELDS = ("cpus", "memory_mb", "pids_limit", "restart_policy", "files", "state", "health_timeout_s")
CRASH_LOOP_EXITS = 3  # exits of the gateway during one readiness wait that fail it at once


class ContainerArgs(ResourceArgs):
    """Inputs of a gateway container.

    ``name``; ``image`` (digest reference); ``command`` (argv); ``env`` (name → value, a Pulumi
    secret); ``labels``; ``network_id``; ``volume_name``; ``mount_path``; ``cpus`` (CPUs, may be
    fractional); ``memory_mb`` (MiB); ``pids_limit``; ``restart_policy`` (``unless-stopped``…);
    ``publish_host`` (host address to publish the gateway port on, or None); ``files`` (name →
    text written into the volume); ``state`` (``running``/``stopped``); ``health_timeout_s``
    (seconds); ``adopt``.
    """

    name: str
    image: Input[str]
    command: list[str]
    env: Input[dict[str, str]]
    labels: dict[str, str]
    network_id: Input[str]
    volume_name: Input[str]
    mount_path: str
    cpus: float
    memory_mb: int
    pids_limit: int
    restart_policy: str
    publish_host: str | None = None
    files: dict[str, str]
    state: Literal["running", "stopped"] = "running"
    health_timeout_s: float
    adopt: bool = False


class ContainerState(ContainerArgs):
    """The inputs, the observed run ``status`` (``running``/``stopped``) and the ``gateway_url``."""

    gateway_url: str | None = None
    status: str | None = None


class ContainerProvider(FleetProvider):
    """Creates (or adopts), updates in place what Docker can, reads and removes. Id: the container id."""

    args_type = ContainerArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = ContainerArgs.parse(props)
        docker = self.docker()
        if args.adopt and docker.inspect_container(args.name):
            self.delete(args.name, props)
        if docker.inspect_image(args.image) is None:  # pushed by this or another run, not here yet
            docker.pull_image(args.image)
        container_id = docker.create_container(args.name, _container_config(args))
        try:
            docker.put_files(container_id, args.mount_path, args.files, NODE_UID, NODE_UID)
            if args.state == "running":
                docker.start_container(container_id)
                _wait_ready(docker, container_id, args)
        except (DockerApiError, DockerUnreachable, GatewayNotReady):
            docker.remove_container(container_id)
            raise
        return CreateResult(container_id, outs=_state(docker, container_id, args))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_FIELDS if olds.get(key) != news.get(key)]
        updates = [key for key in UPDATE_FIELDS if olds.get(key) != news.get(key)]
        # A container found stopped (refresh) while the roster says running is an update too.
        if olds.get("status") not in (None, "running") and news["state"] == "running":
            updates.append("state")
        return DiffResult(changes=bool(replaces or updates), replaces=replaces, delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        args = ContainerArgs.parse(news)
        docker = self.docker()
        if any(olds.get(key) != news[key] for key in ("cpus", "memory_mb", "pids_limit", "restart_policy")):
            docker.update_container(id_, _resources(args))
        files_changed = olds.get("files") != args.files
        if files_changed:
            docker.put_files(id_, args.mount_path, args.files, NODE_UID, NODE_UID)
        running = (docker.inspect_container(id_) or {}).get("State", {}).get("Running", False)
        if args.state == "running":
            if not running:
                docker.start_container(id_)
            elif files_changed:
                docker.restart_container(id_)
            _wait_ready(docker, id_, args)
        elif running:
            docker.stop_container(id_)
        return UpdateResult(outs=_state(docker, id_, args))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        docker = self.docker()
        found = docker.inspect_container(id_)
        if found is None:
            return ReadResult(None, {})
        host = found["HostConfig"]
        return ReadResult(
            id_,
            {
                **props,
                "image": found["Config"]["Image"],
                "labels": found["Config"].get("Labels") or {},
                "cpus": host["NanoCpus"] / 1e9,
                "memory_mb": host["Memory"] // (1024 * 1024),
                "pids_limit": host["PidsLimit"],
                "restart_policy": host["RestartPolicy"]["Name"],
                **_observed(found, props["name"], props.get("publish_host")),
            },
        )

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        """Stop gracefully (SIGTERM, 30 s: the gateway drains and releases its locks), then remove."""
        docker = self.docker()
        if (docker.inspect_container(id_) or {}).get("State", {}).get("Running"):
            docker.stop_container(id_, timeout_s=30)
        docker.remove_container(id_)


def _resources(args: ContainerArgs) -> dict[str, Any]:
    memory = args.memory_mb * 1024 * 1024
    return {
        "NanoCpus": int(args.cpus * 1e9),
        "Memory": memory,
        "MemorySwap": memory,
        "PidsLimit": args.pids_limit,
        "RestartPolicy": {"Name": args.restart_policy},
    }


def _container_config(args: ContainerArgs) -> dict[str, Any]:
    port = f"{GATEWAY_PORT}/tcp"
    host_config: dict[str, Any] = {
        **_resources(args),
        "NetworkMode": args.network_id,
        "Mounts": [{"Type": "volume", "Source": args.volume_name, "Target": args.mount_path}],
        "CapDrop": ["ALL"],
        "SecurityOpt": ["no-new-privileges"],
    }
    if args.publish_host:
        host_config["PortBindings"] = {port: [{"HostIp": args.publish_host, "HostPort": ""}]}
    return {
        # A stable hostname: OpenClaw's state lease names its owner by host and pid, and can reclaim
        # a dead owner's lease only from the same host; a new random hostname would make a
        # replacement container wait out the lease's five-minute TTL.
        "Hostname": args.name,
        "Image": args.image,
        "Cmd": args.command,
        "Env": [f"{key}={value}" for key, value in sorted(args.env.items())],
        "Labels": args.labels,
        "ExposedPorts": {port: {}},
        "HostConfig": host_config,
    }


def _state(docker: DockerClient, container_id: str, args: ContainerArgs) -> dict[str, Any]:
    """The container's state: the inputs and what the engine says of it now."""
    found = docker.inspect_container(container_id) or {}
    return ContainerState(**args.props(), **_observed(found, args.name, args.publish_host)).props()


def _observed(found: dict, name: str, publish_host: str | None) -> dict:
    """The outputs read from an inspection: ``status`` (running/stopped) and ``gateway_url``."""
    running = found.get("State", {}).get("Running", False)
    url = f"http://{name}:{GATEWAY_PORT}"
    if publish_host:
        port = _host_port(found)  # None while stopped: the engine assigns the host port at start
        url = f"http://{publish_host}:{port}" if port else None
    return {"status": "running" if running else "stopped", "gateway_url": url}


def _host_port(found: dict) -> str | None:
    """The host port the gateway port is published on, from a container inspection."""
    bindings = (found.get("NetworkSettings", {}).get("Ports") or {}).get(f"{GATEWAY_PORT}/tcp") or []
    return bindings[0]["HostPort"] if bindings else None


def _wait_ready(docker: DockerClient, container_id: str, args: ContainerArgs) -> None:
    """Poll the gateway's /health (every second) until 200. Raises GatewayNotReady, with the
    container's last 20 log lines, when ``args.health_timeout_s`` seconds pass first, when the
    container has stopped, or once its gateway has exited ``CRASH_LOOP_EXITS`` times or more since
    the wait began and is seen waiting to restart again: under a restart policy a gateway that exits
    at start-up is restarted after a delay that doubles each time, from 100 ms (Engine API,
    ``RestartPolicy``), so it is mostly ``Restarting`` and would otherwise hold the run for the
    whole timeout. The count is the engine's ``RestartCount``."""
    deadline = time.monotonic() + args.health_timeout_s
    restarts_before = None
    while time.monotonic() < deadline:
        found = docker.inspect_container(container_id) or {}
        state = found.get("State", {})
        restarts = found.get("RestartCount", 0)
        restarts_before = restarts if restarts_before is None else restarts_before
        if not state.get("Running") and not state.get("Restarting"):
            _not_ready(docker, container_id, args, f"stopped (exit code {state.get('ExitCode')})")
        # The engine keeps the last exit code only while it waits to restart (at a start it is 0).
        if restarts - restarts_before >= CRASH_LOOP_EXITS and state.get("Restarting"):
            exits = f"exited {restarts - restarts_before} times while starting"
            _not_ready(docker, container_id, args, f"{exits} (last exit code {state.get('ExitCode')})")
        if _health_ok(docker, container_id, args, found):
            return
        time.sleep(1)
    _not_ready(docker, container_id, args, f"did not answer GET /health with 200 within {args.health_timeout_s:g}s")


def _not_ready(docker: DockerClient, container_id: str, args: ContainerArgs, what_happened: str) -> NoReturn:
    logs = docker.logs(container_id, tail=20)
    user = args.labels.get("openclaw-fleet.user", "?")
    raise GatewayNotReady(f"gateway {args.name} (user {user}) {what_happened}; last log lines:\n{logs}")


def _health_ok(docker: DockerClient, container_id: str, args: ContainerArgs, found: dict) -> bool:
    port = _host_port(found)
    if args.publish_host and port:
        try:
            return httpx.get(f"http://{args.publish_host}:{port}/health", timeout=3.0).status_code == 200
        except httpx.HTTPError:
            return False
    probe = (
        f"fetch('http://127.0.0.1:{GATEWAY_PORT}/health').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"
    )
    try:
        return docker.exec_run(container_id, ["node", "-e", probe])[0] == 0
    except (DockerApiError, DockerUnreachable):
        return False


PROVIDER = ContainerProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class Container(FleetResource, module="docker", name="Container"):
    """A user's gateway container; ``env`` is stored only as a Pulumi secret."""

    dynamic_provider, state_type = PROVIDER, ContainerState
    secret_outputs = ("env",)
    delete_before_replace = True  # the replacement has the same name
    status: pulumi.Output[str]
    gateway_url: pulumi.Output[str]
