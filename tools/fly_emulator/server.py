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

The parts: ``state.py`` (apps, machines and their lifecycle, timing, faults), one module of
handlers per resource (``apps.py`` with IP assignments and secrets, ``volumes.py``,
``machines.py`` with leases), ``routes.py`` (the router), and this module (the HTTP server, its
token check, fault injection and call log).

Start it by hand: ``python -m tools.fly_emulator --port 4280 --token dev-token``; then point a stack
at it with ``openclaw-fleet:flyApiUrl: http://127.0.0.1:4280`` and ``FLY_API_TOKEN=dev-token``.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tools.fly_emulator import apps, machines, volumes  # noqa: F401 (their routes register)
from tools.fly_emulator.contract import Contract
from tools.fly_emulator.routes import route
from tools.fly_emulator.state import ApiError, Faults, FlyState, Timing


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
