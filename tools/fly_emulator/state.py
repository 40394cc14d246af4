"""The emulator's state: apps, machines and their lifecycle, timing and faults (``server.py`` serves it).

Machines follow Fly's states created → starting → started → stopping → stopped → destroying →
destroyed with configurable delays; ``validate_config`` checks a machine config as the live API
does where the spec is silent (marked ``live:``).
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

APP_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
VOLUME_NAME_RE = re.compile(r"^[a-z0-9_]{1,30}$")
SECRET_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CPU_KINDS = {"shared": (1, 2, 4, 6, 8), "performance": (1, 2, 4, 8, 16)}
REGIONS = {"sjc", "iad", "ord", "ams", "fra", "lhr", "nrt", "syd", "gru", "sin", "yyz", "cdg", "dfw", "sea", "lax"}


class ApiError(Exception):
    """An answer other than 2xx: HTTP ``status`` and Fly's ``error`` message."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Faults:
    """What the emulator does wrong on purpose. Rates are shares of calls in [0, 1]."""

    latency_s: float = 0.0
    rate_429: float = 0.0
    rate_5xx: float = 0.0
    rate_drop_before: float = 0.0
    rate_drop_after: float = 0.0
    retry_after_s: int = 1
    seed: int | None = None


@dataclass
class Timing:
    """Seconds each machine transition takes (live machines take seconds; tests want less)."""

    start_s: float = 0.6
    stop_s: float = 0.3
    destroy_s: float = 0.2
    app_propagation_s: float = 0.3  # live: a volume create right after its app can 404


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_id() -> str:
    return "01" + secrets.token_hex(12).upper()[:24]


@dataclass
class Machine:
    id: str
    name: str
    region: str
    config: dict
    instance_id: str
    state: str = "created"
    secrets_version: int = 0
    pending: list = field(default_factory=list)  # [(monotonic time, state)]
    lease: dict | None = None
    execs: list = field(default_factory=list)  # commands run through /exec, in order
    created_at: str = field(default_factory=now_iso)
    updated_at: str = field(default_factory=now_iso)
    private_ip: str = field(default_factory=lambda: f"fdaa:0:1:a7b:{secrets.token_hex(2)}:{secrets.token_hex(2)}:0:2")


class FlyState:
    """All apps and what they hold; every method runs under ``lock``."""

    def __init__(self, orgs: tuple[str, ...], timing: Timing, runtime=None):
        self.runtime = runtime  # e.g. runtime.DockerRuntime: started machines become containers
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.orgs, self.timing = orgs, timing
        self.apps: dict[str, dict] = {}
        self._v6 = 0

    # -- helpers ----------------------------------------------------------------------------------

    def app(self, name: str) -> dict:
        app = self.apps.get(name)
        if app is None:
            raise ApiError(404, f"app not found: {name}")
        return app

    def machine(self, app_name: str, machine_id: str) -> Machine:
        machine = self.app(app_name)["machines"].get(machine_id)
        if machine is None:
            raise ApiError(404, f"machine not found: {machine_id}")
        self.advance(machine)
        return machine

    def advance(self, machine: Machine) -> None:
        """Apply the machine's due transitions (lazily, on every look)."""
        now = time.monotonic()
        while machine.pending and machine.pending[0][0] <= now:
            _, machine.state = machine.pending.pop(0)
            machine.updated_at = now_iso()
            self._run(machine)
            if machine.state == "destroyed":
                for app in self.apps.values():
                    for volume in app["volumes"].values():
                        if volume["attached_machine_id"] == machine.id:
                            volume["attached_machine_id"] = None
            self.changed.notify_all()

    def _run(self, machine: Machine) -> None:
        """Mirror a state change on the runtime, when there is one."""
        if self.runtime is None:
            return
        if machine.state == "started":
            app = next(a for a in self.apps.values() if machine.id in a["machines"])
            self.runtime.start(machine, {name: s["value"] for name, s in app["secrets"].items()})
        elif machine.state == "stopped":
            self.runtime.stop(machine)
        elif machine.state == "destroyed":
            self.runtime.destroy(machine)

    def schedule(self, machine: Machine, *steps: tuple[float, str]) -> None:
        at = time.monotonic()
        machine.pending = []
        for delay, state in steps:
            at += delay
            machine.pending.append((at, state))

    def machine_json(self, app: dict, machine: Machine) -> dict:
        checks = []
        for name, check in (machine.config.get("checks") or {}).items():
            status = "critical"
            if machine.state == "started":
                status = self.runtime.check(machine, check) if self.runtime else "passing"
            checks.append(
                {
                    "name": name,
                    "status": status,
                    "output": "" if status == "passing" else status,
                    "updated_at": machine.updated_at,
                }
            )
        image = machine.config.get("image", "")
        repository, _, digest = image.partition("@")
        return {
            "id": machine.id,
            "name": machine.name,
            "state": machine.state,
            "region": machine.region,
            "instance_id": machine.instance_id,
            "private_ip": machine.private_ip,
            "config": machine.config,
            "image_ref": {"registry": repository.split("/")[0], "repository": repository, "digest": digest},
            "created_at": machine.created_at,
            "updated_at": machine.updated_at,
            "checks": checks,
            "host_status": "ok",
            "events": [],
        }

    def validate_config(self, app: dict, config: Any, machine_id: str | None, region: str) -> None:
        """400 for what the live API refuses: no image, bad guest, bad services/checks/files/mounts."""
        if not isinstance(config, dict):
            raise ApiError(400, "invalid config: must be an object")
        if not config.get("image"):
            raise ApiError(400, "invalid config.image: image is required")
        guest = config.get("guest") or {"cpu_kind": "shared", "cpus": 1, "memory_mb": 256}
        kind, cpus, memory = guest.get("cpu_kind"), guest.get("cpus"), guest.get("memory_mb")
        if kind not in CPU_KINDS or cpus not in CPU_KINDS[kind]:
            raise ApiError(400, f"invalid config.guest: {cpus} {kind} cpus is not a valid guest")
        if (
            not isinstance(memory, int)
            or memory % 256
            or not 256 <= memory <= cpus * (2048 if kind == "shared" else 8192)
        ):
            raise ApiError(400, f"invalid config.guest.memory_mb: {memory} MB is not valid for {cpus} {kind} cpus")
        for service in config.get("services") or []:
            port = service.get("internal_port")
            if not isinstance(port, int) or not 0 < port < 65536:
                raise ApiError(400, "invalid config.services: internal_port must be 1-65535")
            for p in service.get("ports") or []:
                if not set(p.get("handlers") or []) <= {"tls", "http", "proxy_proto", "pg_tls", "edge_http"}:
                    raise ApiError(400, f"invalid config.services.ports.handlers: {p.get('handlers')}")
        for name, check in (config.get("checks") or {}).items():
            if check.get("type") not in ("tcp", "http") or not isinstance(check.get("port"), int):
                raise ApiError(400, f"invalid config.checks.{name}: type must be tcp or http, with a port")
        for file in config.get("files") or []:
            if not str(file.get("guest_path", "")).startswith("/"):
                raise ApiError(400, "invalid config.files: guest_path must be absolute")
            sources = [k for k in ("raw_value", "secret_name", "image_config") if file.get(k)]
            if len(sources) != 1:
                raise ApiError(400, "invalid config.files: exactly one of raw_value, secret_name, image_config")
            if file.get("secret_name") and file["secret_name"] not in app["secrets"]:
                raise ApiError(400, f"invalid config.files: secret {file['secret_name']} not found")
            if file.get("raw_value"):
                try:
                    base64.b64decode(file["raw_value"], validate=True)
                except ValueError:
                    raise ApiError(400, "invalid config.files: raw_value must be base64") from None
        for mount in config.get("mounts") or []:
            volume = app["volumes"].get(mount.get("volume"))
            if volume is None:
                raise ApiError(400, f"invalid config.mounts: volume {mount.get('volume')} not found")
            if volume["region"] != region:
                raise ApiError(
                    400, f"invalid config.mounts: volume {volume['id']} is in {volume['region']}, not {region}"
                )
            if volume["attached_machine_id"] not in (None, machine_id):
                raise ApiError(
                    400,
                    f"invalid config.mounts: volume {volume['id']} is already attached to "
                    f"machine {volume['attached_machine_id']}",
                )
            if not str(mount.get("path", "")).startswith("/"):
                raise ApiError(400, "invalid config.mounts: path must be absolute")
        restart = (config.get("restart") or {}).get("policy")
        if restart not in (None, "no", "always", "on-failure", "spot-price"):
            raise ApiError(400, f"invalid config.restart.policy: {restart}")
