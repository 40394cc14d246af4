"""The one client of the Fly Machines API (https://api.machines.dev/v1): one method per API action.

Reference: ``tools/fly_emulator/spec/fly-machines-openapi.json`` (Machines API 1.0) and Fly's guide
"Working with the Machines API" (https://fly.io/docs/machines/api/working-with-machines-api/);
behaviours of the live API the spec does not state are noted where they are used. The shape
follows superfly/fly-go's ``flaps`` client: typed methods (``launch_machine``,
``update_machine(nonce=…)``, ``acquire_lease``, ``wait_machine``…), one retry policy, and errors
raised only for what really happened (``openclaw_fleet.errors``).

Calls are paced per action and app or machine to Fly's documented rate limits (``pacing.py``).
The retry policy (tenacity): 429, 5xx and calls that got no answer are retried with exponential
backoff and jitter, honouring ``Retry-After``, for up to two minutes. A call that is not safe to repeat and lost its
connection after being sent raises ``FlyAnswerLost`` instead, so the caller can look for what it
may have made (``find_or_create``). Some actions also wait out a conflict the API reports while
another operation finishes (``wait_out``: a lease held by someone else, a volume still attached
to a machine being destroyed, a machine still being created); each method says which.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

from openclaw_fleet.errors import FlyAnswerLost, FlyApiError, FlyUnreachable
from openclaw_fleet.providers.fly.pacing import Pacer

TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})
# Time bounds the retries, not a count: at a 40 % error rate (429s and 5xx together) eight tries
# still fail one call in 1,500, so a 1,000-user run would rarely finish.
MAX_ATTEMPTS = 30
MAX_RETRY_S = 120.0
CONFLICT_WAIT_S = 90.0  # longer than a lease's 60 s TTL, so an abandoned lease is outlasted


@dataclass(frozen=True)
class ExecResult:
    """The answer of ``POST …/machines/{id}/exec``."""

    exit_code: int
    stdout: str
    stderr: str


def _backoff(retry_state) -> float:
    """Retry-After when Fly gave one, else 0.2 s doubling up to 10 s, with jitter."""
    error = retry_state.outcome.exception()
    if getattr(error, "retry_after", None) is not None:
        return min(float(error.retry_after), 30.0)
    return min(0.2 * 2 ** (retry_state.attempt_number - 1), 10.0) * random.uniform(0.5, 1.0)


def _policy(wait_out: frozenset[int] = frozenset(), answer_lost: bool = False) -> Retrying:
    """The one retry policy; ``wait_out`` adds statuses to wait through, ``answer_lost`` retries
    FlyAnswerLost (only where the retried code looks before it creates)."""

    def retryable(error: BaseException) -> bool:
        if isinstance(error, FlyAnswerLost):
            return answer_lost
        if isinstance(error, FlyUnreachable):
            return True
        return isinstance(error, FlyApiError) and (error.status in TRANSIENT_STATUS or error.status in wait_out)

    patience = CONFLICT_WAIT_S if wait_out else MAX_RETRY_S
    attempts = 40 if wait_out else MAX_ATTEMPTS
    return Retrying(
        retry=retry_if_exception(retryable),
        wait=_backoff,
        reraise=True,
        stop=stop_after_attempt(attempts) | stop_after_delay(patience),
    )


class FlyClient:
    """Typed calls on the Machines API; a context manager that closes its connections.

    ``base_url``: e.g. ``https://api.machines.dev`` or the emulator's URL; ``token``: a Fly API
    token (sent as a bearer token, never logged); ``timeout``: seconds per HTTP request.
    Methods return the API's JSON objects (dicts, as in the spec) and raise ``FlyApiError`` or
    ``FlyUnreachable`` after the retry policy gives up.
    """

    def __init__(self, base_url: str, token: str, timeout: float = 30.0):
        self._http = httpx.Client(
            base_url=base_url.rstrip("/") + "/v1",
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "openclaw-fleet"},
        )
        self.pacer = Pacer()

    def __enter__(self) -> FlyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    # -- apps ---------------------------------------------------------------------------------

    def create_app(self, name: str, org_slug: str, network: str | None = None) -> None:
        """``POST /apps``, on its own private ``network`` when given (``CreateAppRequest.network``;
        apps on one network reach each other over 6PN, apps on different ones do not — Fly docs,
        "Private Networking", custom private networks). A taken name answers 409 (live API; the
        spec lists only 201/400), which also makes a repeat after a lost answer safe: it is
        retried as idempotent."""
        body = {"name": name, "org_slug": org_slug, **({"network": network} if network else {})}
        self._call("POST", "/apps", json=body, idempotent=True)

    def list_apps(self, org_slug: str) -> list[dict]:
        """``GET /apps?org_slug=…``: the org's apps (``ListApp`` objects)."""
        return (self._call("GET", "/apps", params={"org_slug": org_slug}) or {}).get("apps") or []

    def get_app(self, name: str) -> dict | None:
        """``GET /apps/{app}``; None when there is no such app."""
        return self._call("GET", f"/apps/{name}", missing_ok=True)

    def delete_app(self, name: str) -> None:
        """``DELETE /apps/{app}``: the app and everything in it; an app already gone is fine."""
        self._call("DELETE", f"/apps/{name}", missing_ok=True)

    # -- IP assignments -----------------------------------------------------------------------

    def list_ip_assignments(self, app: str) -> list[dict] | None:
        """``GET /apps/{app}/ip_assignments``: the ``ips``; None when the app is gone."""
        listing = self._call("GET", f"/apps/{app}/ip_assignments", missing_ok=True)
        return None if listing is None else listing.get("ips") or []

    def assign_ip(self, app: str, kind: str) -> dict:
        """``POST /apps/{app}/ip_assignments`` with ``type`` ``shared_v4`` | ``v4`` | ``v6``."""
        return self._call("POST", f"/apps/{app}/ip_assignments", json={"type": kind})

    def release_ip(self, app: str, ip: str) -> None:
        """``DELETE /apps/{app}/ip_assignments/{ip}``; an address already released is fine."""
        self._call("DELETE", f"/apps/{app}/ip_assignments/{ip}", missing_ok=True)

    # -- secrets ------------------------------------------------------------------------------

    def set_secrets(self, app: str, values: dict[str, str | None]) -> int:
        """``POST /apps/{app}/secrets`` (None deletes a name); returns the new secrets version.
        Setting the same values again is harmless; 409 while another update applies is waited out."""
        answer = self._call(
            "POST", f"/apps/{app}/secrets", json={"values": values}, idempotent=True, wait_out=frozenset({409})
        )
        return int(answer.get("version") or answer.get("Version") or 0)

    def list_secrets(self, app: str) -> list[dict] | None:
        """``GET /apps/{app}/secrets``: names and digests, never values; None when the app is gone."""
        listing = self._call("GET", f"/apps/{app}/secrets", missing_ok=True)
        return None if listing is None else listing.get("secrets") or []

    def delete_secret(self, app: str, name: str) -> None:
        """``DELETE /apps/{app}/secrets/{name}``; a secret already gone is fine."""
        self._call("DELETE", f"/apps/{app}/secrets/{name}", missing_ok=True)

    # -- volumes ------------------------------------------------------------------------------

    def list_volumes(self, app: str) -> list[dict] | None:
        """``GET /apps/{app}/volumes``; None when the app is gone."""
        return self._call("GET", f"/apps/{app}/volumes", missing_ok=True)

    def get_volume(self, app: str, volume_id: str) -> dict | None:
        """``GET /apps/{app}/volumes/{id}``; None when it does not exist."""
        return self._call("GET", f"/apps/{app}/volumes/{volume_id}", missing_ok=True)

    def create_volume(self, app: str, request: dict[str, Any]) -> dict:
        """``POST /apps/{app}/volumes`` with a ``CreateVolumeRequest`` (``name``, ``region``,
        ``size_gb``, ``encrypted``, ``snapshot_id``…). Not safe to repeat: see ``find_or_create``."""
        return self._call("POST", f"/apps/{app}/volumes", json=request)

    def extend_volume(self, app: str, volume_id: str, size_gb: int) -> dict:
        """``PUT /apps/{app}/volumes/{id}/extend``; returns the grown volume."""
        answer = self._call("PUT", f"/apps/{app}/volumes/{volume_id}/extend", json={"size_gb": size_gb})
        return answer.get("volume") or {}

    def update_volume(self, app: str, volume_id: str, request: dict[str, Any]) -> dict:
        """``PUT /apps/{app}/volumes/{id}`` with an ``UpdateVolumeRequest`` (``snapshot_retention``
        in days, ``auto_backup_enabled``); returns the volume. Safe to repeat."""
        return self._call("PUT", f"/apps/{app}/volumes/{volume_id}", json=request, idempotent=True)

    def delete_volume(self, app: str, volume_id: str) -> None:
        """``DELETE /apps/{app}/volumes/{id}``; 409 while the volume is still attached to a
        machine being destroyed (live API) is waited out; a volume already gone is fine."""
        self._call("DELETE", f"/apps/{app}/volumes/{volume_id}", missing_ok=True, wait_out=frozenset({409}))

    def list_volume_snapshots(self, app: str, volume_id: str) -> list[dict]:
        """``GET /apps/{app}/volumes/{id}/snapshots``."""
        return self._call("GET", f"/apps/{app}/volumes/{volume_id}/snapshots") or []

    def create_volume_snapshot(self, app: str, volume_id: str) -> None:
        """``POST /apps/{app}/volumes/{id}/snapshots`` (a second snapshot is harmless, so it is
        retried as idempotent)."""
        self._call("POST", f"/apps/{app}/volumes/{volume_id}/snapshots", idempotent=True)

    # -- machines -----------------------------------------------------------------------------

    def list_machines(self, app: str) -> list[dict] | None:
        """``GET /apps/{app}/machines`` less destroyed ones; None when the app is gone."""
        machines = self._call("GET", f"/apps/{app}/machines", missing_ok=True)
        return None if machines is None else [m for m in machines if m.get("state") != "destroyed"]

    def get_machine(self, app: str, machine_id: str) -> dict | None:
        """``GET /apps/{app}/machines/{id}``; None when it does not exist."""
        return self._call("GET", f"/apps/{app}/machines/{machine_id}", missing_ok=True)

    def launch_machine(self, app: str, request: dict[str, Any]) -> dict:
        """``POST /apps/{app}/machines`` with a ``CreateMachineRequest``; returns the machine as
        soon as Fly assigned its id. Not safe to repeat: see ``find_or_create``."""
        return self._call("POST", f"/apps/{app}/machines", json=request)

    def update_machine(self, app: str, machine_id: str, request: dict[str, Any], nonce: str) -> dict:
        """``POST /apps/{app}/machines/{id}`` under the lease ``nonce`` (``fly-machine-lease-nonce``)."""
        return self._call(
            "POST",
            f"/apps/{app}/machines/{machine_id}",
            json=request,
            idempotent=True,
            headers={"fly-machine-lease-nonce": nonce},
        )

    def start_machine(self, app: str, machine_id: str) -> None:
        """``POST …/start``; 412 ``failed_precondition`` while the machine is still being created
        or replaced (live API) is waited out."""
        self._call("POST", f"/apps/{app}/machines/{machine_id}/start", idempotent=True, wait_out=frozenset({412}))

    def stop_machine(self, app: str, machine_id: str) -> None:
        """``POST …/stop`` (the live API wants a JSON body, ``{}`` at least)."""
        self._call("POST", f"/apps/{app}/machines/{machine_id}/stop", json={}, idempotent=True)

    def destroy_machine(self, app: str, machine_id: str) -> None:
        """``DELETE …?force=true``, then wait (≤ 60 s) until it is destroyed; gone already is fine."""
        self._call("DELETE", f"/apps/{app}/machines/{machine_id}", params={"force": "true"}, missing_ok=True)
        with contextlib.suppress(FlyApiError, FlyUnreachable):
            self.wait_machine(app, machine_id, "destroyed", timeout_s=60)

    def wait_machine(
        self, app: str, machine_id: str, state: str, *, version: str | None = None, timeout_s: int = 60
    ) -> bool:
        """``GET …/wait?state=…&version=…&timeout=…``: True once the machine (at ``version``, an
        instance id) is in ``state``; False when the wait ran out (``deadline_exceeded``: 408 on
        the live API) or the machine is gone. ``timeout_s`` is capped at 60 by the API."""
        params: dict[str, Any] = {"state": state, "timeout": max(1, min(60, int(timeout_s)))}
        if version:
            params["version"] = version
        try:
            return (
                self._call(
                    "GET",
                    f"/apps/{app}/machines/{machine_id}/wait",
                    params=params,
                    missing_ok=True,
                    timeout=timeout_s + 30.0,
                )
                is not None
            )
        except FlyApiError as error:
            if "deadline_exceeded" in error.message:
                return False
            raise

    def exec(
        self, app: str, machine_id: str, command: list[str], timeout_s: int, *, idempotent: bool = False
    ) -> ExecResult:
        """``POST …/exec`` with ``command`` (argv) and ``timeout`` (s). A lost answer is repeated
        only for a command the caller says is ``idempotent`` (running it twice does no harm);
        otherwise it raises FlyAnswerLost, since the command may have run."""
        answer = (
            self._call(
                "POST",
                f"/apps/{app}/machines/{machine_id}/exec",
                json={"command": command, "timeout": timeout_s},
                idempotent=idempotent,
                timeout=timeout_s + 30.0,
            )
            or {}
        )
        return ExecResult(int(answer.get("exit_code") or 0), answer.get("stdout") or "", answer.get("stderr") or "")

    # -- leases -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def lease(self, app: str, machine_id: str, ttl_s: int, description: str) -> Iterator[str]:
        """Hold the machine's lease (``POST …/lease``) for a block; yields the nonce and releases
        the lease afterwards (``DELETE …/lease``). 409 while another holds it is waited out
        (longer than a lease's TTL). After a lost answer, a lease with our ``description`` is ours.
        The live API reads the TTL from the query and wraps the lease in ``{"status", "data"}``."""
        path = f"/apps/{app}/machines/{machine_id}/lease"
        for attempt in _policy(wait_out=frozenset({409}), answer_lost=True):
            with attempt:
                try:
                    answer = self._call(
                        "POST", path, params={"ttl": ttl_s}, json={"description": description, "ttl": ttl_s}
                    )
                except FlyAnswerLost:
                    held = self._call("GET", path, missing_ok=True) or {}
                    held = held.get("data") or held
                    if held.get("description") != description or not held.get("nonce"):
                        raise
                    answer = held
        nonce = (answer.get("data") or answer)["nonce"]
        try:
            yield nonce
        finally:
            with contextlib.suppress(FlyApiError, FlyUnreachable):
                self._call("DELETE", path, headers={"fly-machine-lease-nonce": nonce}, missing_ok=True)

    # -- creating once ------------------------------------------------------------------------

    def find_or_create(
        self, find: Callable[[], dict | None], create: Callable[[], dict], *, wait_out: frozenset[int] = frozenset()
    ) -> dict:
        """Create an object at most once although an answer can be lost; return it.

        Looks for it first (an earlier create whose answer was lost may have made it), then
        creates it; after a lost answer, or a status in ``wait_out`` (a name taken by that earlier
        try: 409; an app not visible yet right after its creation: 404), looks again.
        """
        for attempt in _policy(wait_out=wait_out, answer_lost=True):
            with attempt:
                return find() or create()
        raise AssertionError("unreachable: the retry policy reraises")

    # -- one call -----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool | None = None,
        missing_ok: bool = False,
        wait_out: frozenset[int] = frozenset(),
        **kwargs: Any,
    ) -> Any:
        """Send one API call under the retry policy; the decoded JSON body, or None when empty
        (or a 404 with ``missing_ok``). ``idempotent`` defaults to True except for POST."""
        if idempotent is None:
            idempotent = method != "POST"
        if "json" in kwargs:
            kwargs["json"] = whole_numbers(kwargs["json"])
        for attempt in _policy(wait_out):
            with attempt:
                response = self._send(method, path, idempotent, **kwargs)
        if response.status_code == 404:
            if missing_ok:
                return None
            raise _api_error(method, path, response)
        try:
            return response.json() if response.content else None
        except ValueError:
            return None

    def _send(self, method: str, path: str, idempotent: bool, **kwargs: Any) -> httpx.Response:
        self.pacer.wait(method, path)
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise FlyUnreachable(method, path, f"could not connect: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            error = FlyUnreachable if idempotent else FlyAnswerLost
            raise error(method, path, f"connection lost: {type(exc).__name__}") from None
        if response.status_code >= 400 and response.status_code != 404:
            raise _api_error(method, path, response)
        return response


def whole_numbers(value: Any) -> Any:
    """Turn integral floats into ints, recursively.

    The Pulumi engine hands providers every number as a float; Fly's API (Go) refuses ``1.0``
    where it wants an integer (``size_gb``, ``cpus``, ``memory_mb``, ports, file modes).
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def _api_error(method: str, path: str, response: httpx.Response) -> FlyApiError:
    try:
        body = response.json()
        message = body.get("error") or body.get("message") or response.text
    except ValueError:
        message = response.text[:300]
    retry_after = response.headers.get("retry-after")
    return FlyApiError(
        method,
        path,
        response.status_code,
        str(message).strip(),
        response.headers.get("fly-request-id"),
        float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None,
    )
