"""An emulator of the Fly Machines API, for tests and for people without a Fly account.

Written to ``tools/fly_emulator/spec/fly-machines-openapi.json`` (paths, field names, status codes,
``{"error": …}`` bodies). Where the spec is silent, it follows the live API's documented or
observed behaviour, marked ``live:`` in comments. It keeps everything in memory.

Covered: apps (create/list/show/delete, cascading), IP assignments, volumes (create/show/list/
extend/delete, encrypted, one machine per volume), app secrets (values never returned), machines
(create/list/show/update/start/stop/delete/wait/lease) with the state machine created → starting →
started → stopping → stopped → destroying → destroyed and configurable transition delays, and
machine checks (``passing`` once started). Exec runs the command in the machine's container with
the Docker runtime, and otherwise records it (``Machine.execs``) and answers exit code 0. Not
covered: certificates, metadata endpoints, events, suspend, cordon, org listings, tokens, regions,
placements. Volume snapshots: create, list,
and new volumes from a snapshot (``snapshot_id``); snapshots outlive their volume while the app
exists (live: they are kept for their retention days), and a restored volume records its source.

With ``runtime=DockerRuntime()`` (runtime.py), started machines run as real containers of their
image and their checks are real HTTP checks, so the real gateway answers behind the emulator.

Fault injection (``Faults``): per-call latency, a share of 429 (with ``Retry-After``) and of 5xx
answered before the request is processed, and a share of dropped connections (closed without an
answer, before or after processing). ``calls`` logs every request (method, path, status).

Start it by hand: ``python -m tools.fly_emulator --port 4280 --token dev-token``; then point a stack
at it with ``openclaw-fleet:flyApiUrl: http://127.0.0.1:4280`` and ``FLY_API_TOKEN=dev-token``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tools.fly_emulator.contract import Contract

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


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _ulid() -> str:
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
    created_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)
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
            machine.updated_at = _now()
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


class Emulator:
    """The emulator: ``start()`` serves on 127.0.0.1; ``url``, ``calls``, ``faults``, ``state``."""

    def __init__(
        self,
        tokens: tuple[str, ...] = ("test-token",),
        orgs: tuple[str, ...] = ("personal",),
        readonly_tokens: tuple[str, ...] = (),
        port: int = 0,
        timing: Timing | None = None,
        runtime=None,
    ):
        self.tokens, self.faults = set(tokens), Faults()
        # Read-only tokens (`fly tokens create readonly`): reads answer, writes are unauthorized.
        self.readonly_tokens = set(readonly_tokens)
        # Every call checked against the spec when FLY_EMULATOR_CONTRACT=1 (the test suite sets it).
        self.contract = Contract() if os.environ.get("FLY_EMULATOR_CONTRACT") == "1" else None
        self.state = FlyState(orgs, timing or Timing(), runtime)
        self.calls: list[dict] = []
        self._calls_lock = threading.Lock()
        self._random = random.Random()
        emulator = self

        class Handler(_Handler):
            owner = emulator

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Emulator:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def set_faults(self, faults: Faults) -> None:
        self.faults = faults
        self._random = random.Random(faults.seed)

    def roll(self, rate: float) -> bool:
        return rate > 0 and self._random.random() < rate

    def log(self, method: str, path: str, status: int, leased: bool = False, started: float | None = None) -> None:
        """Record one call: method, path (no query), status (0: dropped), whether it carried a lease
        nonce, and when it arrived and was answered (``started``, ``ended``: ``time.monotonic()``)."""
        ended = time.monotonic()
        with self._calls_lock:
            self.calls.append(
                {
                    "method": method,
                    "path": path,
                    "status": status,
                    "leased": leased,
                    "started": ended if started is None else started,
                    "ended": ended,
                }
            )

    def in_flight(self, since: int = 0, start: float | None = None, end: float | None = None) -> tuple[float, int]:
        """Calls open at once among ``calls[since:]`` between ``start`` and ``end`` (monotonic
        seconds; default: the first arrival and the last answer): the time-weighted mean and the most."""
        calls = self.calls[since:]
        if not calls:
            return 0.0, 0
        start = min(call["started"] for call in calls) if start is None else start
        end = max(call["ended"] for call in calls) if end is None else end
        events = sorted([(call["started"], 1) for call in calls] + [(call["ended"], -1) for call in calls])
        busy, open_now, most, last = 0.0, 0, 0, start
        for at, change in events:
            at = min(max(at, start), end)
            busy += open_now * (at - last)
            last, open_now = at, open_now + change
            most = max(most, open_now)
        return busy / max(end - start, 1e-9), most


class _Handler(BaseHTTPRequestHandler):
    owner: Emulator
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # the call log replaces stderr noise
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        self._started = time.monotonic()
        emulator = self.owner
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        self._query, self._raw = query, raw
        faults = emulator.faults
        if faults.latency_s:
            time.sleep(faults.latency_s)
        leased = bool(self.headers.get("fly-machine-lease-nonce"))
        if emulator.roll(faults.rate_drop_before):
            self._check_contract(method, path, None, b"")
            emulator.log(method, path, 0, leased, self._started)
            self.close_connection = True
            self.connection.close()
            return
        if emulator.roll(faults.rate_429):
            return self._answer(
                method, path, 429, {"error": "rate limited"}, {"Retry-After": str(faults.retry_after_s)}, leased, True
            )
        if emulator.roll(faults.rate_5xx):
            status = emulator._random.choice([500, 502, 503])
            return self._answer(method, path, status, {"error": "internal error"}, leased=leased, injected=True)
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").removeprefix("FlyV1 ").strip()
        if token in emulator.readonly_tokens and method != "GET":
            return self._answer(method, path, 401, {"error": "unauthorized: read-only token"}, leased=leased)
        if token not in emulator.tokens and token not in emulator.readonly_tokens:
            return self._answer(method, path, 401, {"error": "unauthorized"}, leased=leased)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._answer(method, path, 400, {"error": "invalid JSON body"}, leased=leased)
        try:
            with emulator.state.lock:
                status, answer = route(emulator.state, method, path, query, body, self.headers)
        except ApiError as error:
            status, answer = error.status, {"error": error.message}
        if emulator.roll(faults.rate_drop_after):
            self._check_contract(method, path, status, b"" if answer is None else json.dumps(answer).encode())
            emulator.log(method, path, 0, leased, self._started)
            self.close_connection = True
            self.connection.close()
            return
        self._answer(method, path, status, answer, leased=leased)

    def _check_contract(self, method: str, path: str, status: int | None, data: bytes) -> None:
        if self.owner.contract is not None:
            headers = {key.lower(): value for key, value in self.headers.items()}
            self.owner.contract.check(method, path, self._query, headers, self._raw, status, data)

    def _answer(
        self,
        method: str,
        path: str,
        status: int,
        answer: Any,
        headers: dict | None = None,
        leased: bool = False,
        injected: bool = False,
    ) -> None:
        self.owner.log(method, path, status, leased, self._started)
        data = b"" if answer is None else json.dumps(answer).encode()
        self._check_contract(method, path, None if injected else status, data)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("fly-request-id", f"01EMU{secrets.token_hex(8).upper()}")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


ROUTES: list[tuple[str, re.Pattern, str]] = []


def _route(method: str, pattern: str):
    def register(function):
        ROUTES.append((method, re.compile("^/v1" + pattern + "$"), function.__name__))
        return function

    return register


def route(state: FlyState, method: str, path: str, query: dict, body: Any, headers) -> tuple[int, Any]:
    """Dispatch one request; returns (status, JSON answer)."""
    for route_method, pattern, name in ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return globals()[name](state, *match.groups(), query=query, body=body, headers=headers)
    raise ApiError(404, f"not found: {method} {path}")


# -- apps ----------------------------------------------------------------------------------------


@_route("GET", "/apps")
def list_apps(state, *, query, body, headers):
    org = (query.get("org_slug") or [None])[0]
    apps = [_app_json(a) for a in state.apps.values() if org in (None, a["org"])]
    return 200, {"total_apps": len(apps), "apps": apps}


@_route("POST", "/apps")
def create_app(state, *, query, body, headers):
    body = body or {}
    name, org = body.get("name") or body.get("app_name"), body.get("org_slug")
    if not name or not APP_NAME_RE.match(name):
        raise ApiError(400, "invalid app name: lowercase letters, digits and dashes, 2-63 characters")
    if org not in state.orgs:
        raise ApiError(404, f"organization not found: {org}")
    if name in state.apps:
        raise ApiError(409, f"app name {name} is already taken")  # live: 409, the spec lists only 201/400
    state.apps[name] = {
        "id": secrets.token_hex(8),
        "name": name,
        "org": org,
        "created": time.monotonic(),
        "network": body.get("network") or "default",
        "machines": {},
        "volumes": {},
        "ips": [],
        "secrets": {},
        "secrets_version": 0,
        "snapshots": {},
        "restored": {},
    }
    return 201, None


@_route("GET", "/apps/([^/]+)")
def show_app(state, app_name, *, query, body, headers):
    return 200, _app_json(state.app(app_name))


@_route("DELETE", "/apps/([^/]+)")
def delete_app(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    if state.runtime:
        for machine in app["machines"].values():
            state.runtime.destroy(machine)
        for volume_id in app["volumes"]:
            state.runtime.remove_volume(volume_id)
    del state.apps[app_name]  # cascades: machines, volumes, IPs and secrets go with it
    return 202, None


def _app_json(app: dict) -> dict:
    live = [m for m in app["machines"].values() if m.state != "destroyed"]
    return {
        "id": app["id"],
        "name": app["name"],
        "machine_count": len(live),
        "volume_count": len(app["volumes"]),
        "network": app["network"],
        "organization": {"name": app["org"], "slug": app["org"]},
        "status": "deployed" if live else "pending",
        "internal_numeric_id": int(app["id"][:6], 16),
    }


# -- IP assignments ------------------------------------------------------------------------------


@_route("GET", "/apps/([^/]+)/ip_assignments")
def list_ips(state, app_name, *, query, body, headers):
    return 200, {"ips": state.app(app_name)["ips"]}


@_route("POST", "/apps/([^/]+)/ip_assignments")
def assign_ip(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    kind = (body or {}).get("type")
    if kind == "shared_v4":
        ip = {"ip": "66.241.124.11", "shared": True}
    elif kind == "v4":
        ip = {"ip": f"137.66.{random.randint(0, 255)}.{random.randint(1, 254)}", "shared": False}
    elif kind in ("v6", "private_v6"):
        state._v6 += 1
        ip = {"ip": f"2a09:8280:1::{state._v6:x}:{random.randint(1, 0xFFFF):x}", "shared": False}
    else:
        raise ApiError(400, f"invalid type {kind!r}: one of v4, shared_v4, v6, private_v6")
    if any(existing["ip"] == ip["ip"] for existing in app["ips"]):
        raise ApiError(409, f"app already has the shared IPv4 {ip['ip']}")
    ip.update(
        region=(body or {}).get("region") or "global",
        created_at=_now(),
        service_name=(body or {}).get("service_name") or "",
    )
    app["ips"].append(ip)
    return 200, ip


@_route("DELETE", "/apps/([^/]+)/ip_assignments/([^/]+)")
def release_ip(state, app_name, ip, *, query, body, headers):
    app = state.app(app_name)
    if not any(a["ip"] == ip for a in app["ips"]):
        raise ApiError(404, f"ip not found: {ip}")
    app["ips"] = [a for a in app["ips"] if a["ip"] != ip]
    return 204, None


# -- secrets -------------------------------------------------------------------------------------


@_route("GET", "/apps/([^/]+)/secrets")
def list_secrets(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    # show_secrets is accepted and ignored: this emulator never returns a secret value in plain text.
    return 200, {"secrets": [_secret_json(name, s) for name, s in sorted(app["secrets"].items())]}


@_route("POST", "/apps/([^/]+)/secrets")
def update_secrets(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    values = (body or {}).get("values")
    if not isinstance(values, dict) or not values:
        raise ApiError(400, "values must be a non-empty object of secret name to value (null deletes)")
    for name, value in values.items():
        if not SECRET_NAME_RE.match(name) or not (value is None or isinstance(value, str)):
            raise ApiError(400, f"invalid secret {name!r}: names are env names, values strings or null")
    for name, value in values.items():
        if value is None:
            app["secrets"].pop(name, None)
        else:
            old = app["secrets"].get(name)
            app["secrets"][name] = {
                "value": value,
                "digest": hashlib.sha256(value.encode()).hexdigest()[:16],
                "created_at": old["created_at"] if old else _now(),
                "updated_at": _now(),
            }
    app["secrets_version"] += 1
    return 200, {
        "secrets": [_secret_json(n, s) for n, s in sorted(app["secrets"].items())],
        "version": app["secrets_version"],
        "Version": app["secrets_version"],
    }


@_route("DELETE", "/apps/([^/]+)/secrets/([^/]+)")
def delete_secret(state, app_name, name, *, query, body, headers):
    app = state.app(app_name)
    if app["secrets"].pop(name, None) is None:
        raise ApiError(404, f"secret not found: {name}")
    app["secrets_version"] += 1
    return 200, {"version": app["secrets_version"]}


def _secret_json(name: str, secret: dict) -> dict:
    return {
        "name": name,
        "digest": secret["digest"],
        "created_at": secret["created_at"],
        "updated_at": secret["updated_at"],
    }


# -- volumes -------------------------------------------------------------------------------------


@_route("GET", "/apps/([^/]+)/volumes")
def list_volumes(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    for machine in app["machines"].values():
        state.advance(machine)
    return 200, list(app["volumes"].values())


@_route("POST", "/apps/([^/]+)/volumes")
def create_volume(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    if time.monotonic() - app["created"] < state.timing.app_propagation_s:
        raise ApiError(404, f"app not found: {app_name}")  # live: a brand-new app is not visible everywhere yet
    body = body or {}
    name, region, size = body.get("name"), body.get("region"), body.get("size_gb", 1)
    if not name or not VOLUME_NAME_RE.match(name):
        raise ApiError(400, "invalid volume name: lowercase letters, digits and underscores, at most 30")
    if region not in REGIONS:
        raise ApiError(400, f"invalid region {region!r}")
    if not isinstance(size, int) or not 1 <= size <= 500:
        raise ApiError(400, "size_gb must be between 1 and 500")
    volume = {
        "id": "vol_" + secrets.token_hex(8),
        "name": name,
        "region": region,
        "zone": f"{region}1",
        "size_gb": size,
        "encrypted": body.get("encrypted", True),
        "state": "created",
        "fstype": "ext4",
        "attached_machine_id": None,
        "attached_alloc_id": None,
        "created_at": _now(),
        "host_status": "ok",
        "type": "local",
        "auto_backup_enabled": body.get("auto_backup_enabled", True),
        "snapshot_retention": body.get("snapshot_retention", 5),
        "block_size": 4096,
        "blocks": size * 262144,
        "blocks_free": size * 262144,
        "blocks_avail": size * 262144,
        "bytes_total": size * 2**30,
        "bytes_used": 0,
    }
    snapshot_id = body.get("snapshot_id")
    if snapshot_id:
        if not any(snap["id"] == snapshot_id for snaps in app["snapshots"].values() for snap in snaps):
            raise ApiError(404, f"snapshot not found: {snapshot_id}")
        app["restored"][volume["id"]] = snapshot_id
    app["volumes"][volume["id"]] = volume
    return 200, volume


@_route("GET", "/apps/([^/]+)/volumes/([^/]+)/snapshots")
def list_snapshots(state, app_name, volume_id, *, query, body, headers):
    app = state.app(app_name)
    if volume_id not in app["volumes"] and volume_id not in app["snapshots"]:
        raise ApiError(404, f"volume not found: {volume_id}")
    return 200, app["snapshots"].get(volume_id, [])


@_route("POST", "/apps/([^/]+)/volumes/([^/]+)/snapshots")
def create_snapshot(state, app_name, volume_id, *, query, body, headers):
    app = state.app(app_name)
    volume = _volume(state, app_name, volume_id)
    app["snapshots"].setdefault(volume_id, []).append(
        {
            "id": "vs_" + secrets.token_hex(8),
            "created_at": _now(),
            "digest": secrets.token_hex(16),
            "retention_days": volume["snapshot_retention"],
            "size": volume["bytes_used"],
            "status": "created",
            "volume_size": volume["size_gb"],
        }
    )
    return 200, None  # the spec's 200 has no body


@_route("GET", "/apps/([^/]+)/volumes/([^/]+)")
def show_volume(state, app_name, volume_id, *, query, body, headers):
    return 200, _volume(state, app_name, volume_id)


@_route("PUT", "/apps/([^/]+)/volumes/([^/]+)")
def update_volume(state, app_name, volume_id, *, query, body, headers):
    volume = _volume(state, app_name, volume_id)
    retention = (body or {}).get("snapshot_retention", volume["snapshot_retention"])
    if not isinstance(retention, int) or not 1 <= retention <= 60:
        raise ApiError(400, "snapshot_retention must be a whole number of days from 1 to 60")
    volume.update(
        snapshot_retention=retention,
        auto_backup_enabled=(body or {}).get("auto_backup_enabled", volume["auto_backup_enabled"]),
    )
    return 200, volume


@_route("PUT", "/apps/([^/]+)/volumes/([^/]+)/extend")
def extend_volume(state, app_name, volume_id, *, query, body, headers):
    volume = _volume(state, app_name, volume_id)
    size = (body or {}).get("size_gb")
    if not isinstance(size, int) or size <= volume["size_gb"] or size > 500:
        raise ApiError(400, f"size_gb must be larger than the current {volume['size_gb']} GB (and at most 500)")
    volume.update(size_gb=size, bytes_total=size * 2**30, blocks=size * 262144)
    return 200, {"volume": volume, "needs_restart": False}


@_route("DELETE", "/apps/([^/]+)/volumes/([^/]+)")
def delete_volume(state, app_name, volume_id, *, query, body, headers):
    app = state.app(app_name)
    for machine in app["machines"].values():
        state.advance(machine)
    volume = _volume(state, app_name, volume_id)
    if volume["attached_machine_id"]:
        raise ApiError(409, f"volume {volume_id} is attached to machine {volume['attached_machine_id']}")  # live
    del app["volumes"][volume_id]
    if state.runtime:
        state.runtime.remove_volume(volume_id)
    return 200, {**volume, "state": "destroyed"}


def _volume(state: FlyState, app_name: str, volume_id: str) -> dict:
    volume = state.app(app_name)["volumes"].get(volume_id)
    if volume is None:
        raise ApiError(404, f"volume not found: {volume_id}")
    return volume


# -- machines ------------------------------------------------------------------------------------


@_route("GET", "/apps/([^/]+)/machines")
def list_machines(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    out = []
    for machine in app["machines"].values():
        state.advance(machine)
        if machine.state != "destroyed":
            out.append(state.machine_json(app, machine))
    return 200, out


@_route("POST", "/apps/([^/]+)/machines")
def create_machine(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    body = body or {}
    region = body.get("region") or "iad"
    if region not in REGIONS:
        raise ApiError(400, f"invalid region {region!r}")
    name = body.get("name") or f"machine-{secrets.token_hex(4)}"
    for other in app["machines"].values():
        state.advance(other)
        if other.name == name and other.state != "destroyed":
            raise ApiError(409, f"machine name {name} is already taken")  # live: 409 on a taken name
    state.validate_config(app, body.get("config"), None, region)
    if (body.get("min_secrets_version") or 0) > app["secrets_version"]:
        raise ApiError(412, "failed_precondition: min_secrets_version is newer than the app's secrets")
    machine = Machine(
        id=secrets.token_hex(7),
        name=name,
        region=region,
        config=body["config"],
        instance_id=_ulid(),
        secrets_version=app["secrets_version"],
    )
    _attach(app, machine)
    app["machines"][machine.id] = machine
    if body.get("skip_launch"):
        machine.state = "stopped"
    else:
        state.schedule(machine, (0.1, "starting"), (state.timing.start_s, "started"))
    return 200, state.machine_json(app, machine)


@_route("GET", "/apps/([^/]+)/machines/([^/]+)")
def show_machine(state, app_name, machine_id, *, query, body, headers):
    machine = state.machine(app_name, machine_id)
    if machine.state == "destroyed":
        raise ApiError(404, f"machine not found: {machine_id}")
    return 200, state.machine_json(state.app(app_name), machine)


@_route("POST", "/apps/([^/]+)/machines/([^/]+)")
def update_machine(state, app_name, machine_id, *, query, body, headers):
    app = state.app(app_name)
    machine = _live_machine(state, app_name, machine_id)
    _check_lease(machine, headers)
    body = body or {}
    config = body.get("config")
    state.validate_config(app, config, machine.id, machine.region)
    old_volumes = [m.get("volume") for m in machine.config.get("mounts") or []]
    if [m.get("volume") for m in config.get("mounts") or []] != old_volumes:
        raise ApiError(400, "invalid config.mounts: the volume of an existing machine cannot be changed")
    if body.get("region") not in (None, machine.region):
        raise ApiError(400, "region of an existing machine cannot be changed")
    if (body.get("min_secrets_version") or 0) > app["secrets_version"]:
        raise ApiError(412, "failed_precondition: min_secrets_version is newer than the app's secrets")
    machine.config, machine.instance_id = config, _ulid()
    machine.secrets_version = app["secrets_version"]  # live: secrets are read when the machine is updated
    machine.updated_at = _now()
    if body.get("skip_launch"):
        if machine.state in ("started", "starting"):
            state.schedule(machine, (0.05, "stopping"), (state.timing.stop_s, "stopped"))
    else:
        machine.state = "replacing"
        state.schedule(
            machine, (0.05, "stopping"), (state.timing.stop_s, "starting"), (state.timing.start_s, "started")
        )
    return 200, state.machine_json(app, machine)


@_route("POST", "/apps/([^/]+)/machines/([^/]+)/start")
def start_machine(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    if machine.state in ("created", "replacing"):
        raise ApiError(412, f"failed_precondition: machine {machine_id} is {machine.state}")  # live
    if machine.state in ("stopped", "suspended"):
        state.schedule(machine, (0.05, "starting"), (state.timing.start_s, "started"))
    return 200, None


@_route("POST", "/apps/([^/]+)/machines/([^/]+)/stop")
def stop_machine(state, app_name, machine_id, *, query, body, headers):
    if body is None:
        raise ApiError(400, "invalid request body: stop wants a JSON object")  # live: {} at least
    machine = _live_machine(state, app_name, machine_id)
    if machine.state in ("started", "starting", "replacing"):
        state.schedule(machine, (0.05, "stopping"), (state.timing.stop_s, "stopped"))
    return 200, None


@_route("DELETE", "/apps/([^/]+)/machines/([^/]+)")
def delete_machine(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    force = (query.get("force") or ["false"])[0] == "true"
    if machine.state in ("started", "starting") and not force:
        raise ApiError(412, f"failed_precondition: machine {machine_id} is {machine.state}; stop it or use force=true")
    machine.state = "destroying"
    state.schedule(machine, (state.timing.destroy_s, "destroyed"))
    return 200, None  # the spec: no body


@_route("GET", "/apps/([^/]+)/machines/([^/]+)/wait")
def wait_machine(state, app_name, machine_id, *, query, body, headers):
    wanted = {s for value in query.get("state") or ["started"] for s in value.split(",")}
    version = (query.get("version") or query.get("instance_id") or [None])[0]
    try:
        timeout = min(int((query.get("timeout") or ["60"])[0]), 60)
    except ValueError:
        raise ApiError(400, "timeout must be a whole number of seconds") from None
    deadline = time.monotonic() + timeout
    machine = state.machine(app_name, machine_id)
    while True:
        state.advance(machine)
        if machine.state in wanted and version in (None, machine.instance_id):
            return 200, {"ok": True, "state": machine.state, "version": machine.instance_id, "event_id": _ulid()}
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # live: a wait that runs out is 408 with a deadline_exceeded error
            raise ApiError(
                408,
                f"deadline_exceeded: machine {machine_id} did not reach {','.join(sorted(wanted))} "
                f"within {timeout}s (state {machine.state})",
            )
        next_change = machine.pending[0][0] - time.monotonic() if machine.pending else remaining
        state.changed.wait(timeout=max(0.01, min(remaining, next_change, 0.25)))


@_route("POST", "/apps/([^/]+)/machines/([^/]+)/exec")
def exec_machine(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    command = (body or {}).get("command") or ((body or {}).get("cmd") or "").split()
    if not command:
        raise ApiError(400, "command is required")
    if machine.state != "started":
        raise ApiError(412, f"failed_precondition: machine {machine_id} is {machine.state}")
    machine.execs.append(command)
    if state.runtime:
        code, output = state.runtime.exec(machine, command)
        return 200, {"exit_code": code, "exit_signal": 0, "stdout": output, "stderr": ""}
    return 200, {"exit_code": 0, "exit_signal": 0, "stdout": "", "stderr": ""}


@_route("GET", "/apps/([^/]+)/machines/([^/]+)/lease")
def show_lease(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    _expire_lease(machine)
    if machine.lease is None:
        raise ApiError(404, "no lease held")
    return 200, {"status": "success", "data": machine.lease}


@_route("POST", "/apps/([^/]+)/machines/([^/]+)/lease")
def create_lease(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    _expire_lease(machine)
    nonce = headers.get("fly-machine-lease-nonce")
    # live: the TTL is read from the query string; the body's ttl (the spec's place) is a fallback
    ttl = int((query.get("ttl") or [None])[0] or (body or {}).get("ttl") or 30)
    if machine.lease and machine.lease["nonce"] != nonce:
        raise ApiError(409, f"machine {machine_id} already has a lease, held until {machine.lease['expires_at']}")
    machine.lease = {
        "nonce": nonce or secrets.token_hex(8),
        "expires_at": int(time.time()) + ttl,
        "owner": "emulator@example.com",
        "description": (body or {}).get("description", ""),
        "version": machine.instance_id,
    }
    return 201, {"status": "success", "data": machine.lease}  # live: wrapped, unlike the spec's bare Lease


@_route("DELETE", "/apps/([^/]+)/machines/([^/]+)/lease")
def release_lease(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    _check_lease(machine, headers)
    machine.lease = None
    return 200, None


def _live_machine(state: FlyState, app_name: str, machine_id: str) -> Machine:
    machine = state.machine(app_name, machine_id)
    if machine.state in ("destroying", "destroyed"):
        raise ApiError(404 if machine.state == "destroyed" else 412, f"machine {machine_id} is {machine.state}")
    return machine


def _expire_lease(machine: Machine) -> None:
    if machine.lease and machine.lease["expires_at"] <= time.time():
        machine.lease = None


def _check_lease(machine: Machine, headers) -> None:
    _expire_lease(machine)
    if machine.lease and headers.get("fly-machine-lease-nonce") != machine.lease["nonce"]:
        raise ApiError(409, f"machine {machine.id} is leased; send its nonce in fly-machine-lease-nonce")


def _attach(app: dict, machine: Machine) -> None:
    for mount in machine.config.get("mounts") or []:
        app["volumes"][mount["volume"]]["attached_machine_id"] = machine.id
