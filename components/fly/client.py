"""The one HTTP client for the Fly Machines API (https://api.machines.dev/v1).

Reference: ``shared/reference/fly-machines-openapi.json`` (Machines API 1.0), plus behaviours of
the live API the spec does not state, noted where they are used.

- Base URL from stack config ``openclaw-fleet:flyApiUrl`` (default ``https://api.machines.dev``);
  token from ``FLY_API_TOKEN`` or the config secret ``openclaw-fleet:flyApiToken``.
- Timeouts on every call; retries with exponential backoff and jitter (tenacity) on 429, 5xx and
  connection errors, honouring ``Retry-After``. A request that may have reached Fly before the
  connection broke (a read error) is retried only when the caller says the call is idempotent;
  otherwise ``FlyConnectionLost`` is raised and the provider looks for what it may have created.
- Errors (``FlyError``) carry method, path, status, Fly's error message and the request id, never
  the token or a request body.

The client object is created inside provider methods and never stored on a provider, so nothing
live ends up in the provider that the SDK pickles into state.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from typing import Any

import httpx
from pulumi.dynamic import ConfigureRequest, ResourceProvider
from tenacity import Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

DEFAULT_API_URL = "https://api.machines.dev"
RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class FlyError(Exception):
    """A Fly Machines API call failed.

    Attributes: ``method``, ``path``, ``status`` (0: no HTTP answer), ``message`` (Fly's
    ``error`` field), ``request_id`` (``fly-request-id`` header, when there was one) and
    ``retry_after`` (seconds, from a 429's ``Retry-After``).
    """

    def __init__(self, method: str, path: str, status: int, message: str, request_id: str | None = None,
                 retry_after: float | None = None):
        self.method, self.path, self.status, self.message = method, path, status, message
        self.request_id, self.retry_after = request_id, retry_after
        suffix = f" (request id {request_id})" if request_id else ""
        super().__init__(f"Fly {method} {path}: {status} {message}{suffix}")


class FlyConnectionLost(FlyError):
    """The connection broke after a non-idempotent request was sent: it may or may not have run."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, FlyError) and not isinstance(exc, FlyConnectionLost) and (
        exc.status in RETRYABLE_STATUS or exc.status == 0)


def _wait(retry_state) -> float:
    """Retry-After when Fly gave one, else exponential backoff (0.2 s doubling, max 10 s) with jitter."""
    exc = retry_state.outcome.exception()
    if getattr(exc, "retry_after", None) is not None:
        return min(float(exc.retry_after), 30.0)
    return min(0.2 * 2 ** (retry_state.attempt_number - 1), 10.0) * random.uniform(0.5, 1.0)


class FlyClient:
    """Typed calls on the Machines API. Use as a context manager so connections are closed."""

    def __init__(self, base_url: str, token: str, timeout: float = 30.0, max_attempts: int = 8):
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/v1", timeout=timeout,
                                  headers={"Authorization": f"Bearer {token}", "User-Agent": "openclaw-fleet"})
        self._max_attempts = max_attempts

    def __enter__(self) -> FlyClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def call(self, method: str, path: str, *, idempotent: bool | None = None, ok_404: bool = False,
             **kwargs: Any) -> Any:
        """Send one API call with retries; return the decoded JSON body (None when empty or 404 with ok_404).

        ``idempotent`` defaults to True for GET/PUT/DELETE and False for POST.
        """
        if idempotent is None:
            idempotent = method != "POST"
        if "json" in kwargs:
            kwargs["json"] = whole_numbers(kwargs["json"])
        retrying = Retrying(retry=retry_if_exception(_retryable), wait=_wait, reraise=True,
                            stop=stop_after_attempt(self._max_attempts) | stop_after_delay(120))
        for attempt in retrying:
            with attempt:
                response = self._send(method, path, idempotent, ok_404, **kwargs)
        if response.status_code == 404 and ok_404:
            return None
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None

    def _send(self, method: str, path: str, idempotent: bool, ok_404: bool, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise FlyError(method, path, 0, f"could not connect: {type(exc).__name__}") from None
        except httpx.TransportError as exc:
            if idempotent:
                raise FlyError(method, path, 0, f"connection lost: {type(exc).__name__}") from None
            raise FlyConnectionLost(method, path, 0, f"connection lost: {type(exc).__name__}") from None
        if response.status_code >= 400 and not (response.status_code == 404 and ok_404):
            raise _error(method, path, response)
        return response


def find_or_create(find: Callable[[], dict | None], create: Callable[[], dict], *,
                   retry_status: frozenset[int] = frozenset(), attempts: int = 10) -> dict:
    """Create an object at most once although an answer can be lost; return it.

    Looks for the object first (an earlier create whose answer was lost may have made it), then
    creates it. After a lost answer (FlyConnectionLost), or an error whose status is in
    ``retry_status`` (e.g. 409 name taken, 404 app not visible yet), it looks again. Raises the
    last error when ``attempts`` run out.
    """
    last: FlyError | None = None
    for attempt in range(attempts):
        found = find()
        if found:
            return found
        try:
            return create()
        except FlyConnectionLost as error:
            last = error
        except FlyError as error:
            if error.status not in retry_status:
                raise
            last = error
            time.sleep(min(0.5 * (attempt + 1), 3.0))
    raise last


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


def _error(method: str, path: str, response: httpx.Response) -> FlyError:
    try:
        body = response.json()
        message = body.get("error") or body.get("message") or response.text
    except ValueError:
        message = response.text[:300]
    retry_after = response.headers.get("retry-after")
    return FlyError(method, path, response.status_code, str(message).strip(),
                    response.headers.get("fly-request-id"),
                    float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None)


class FlyProvider(ResourceProvider):
    """Base of the Fly dynamic providers: reads the API URL and token in ``configure``.

    Settings are stored on the provider only after the engine deserializes it, so they are never
    pickled into state. ``self.fly()`` opens a new client for one provider call.
    """

    api_url: str = DEFAULT_API_URL
    _token: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        self.api_url = req.config.get("flyApiUrl") or DEFAULT_API_URL
        self._token = os.environ.get("FLY_API_TOKEN") or req.config.get("flyApiToken")

    def fly(self) -> FlyClient:
        if not self._token:
            raise FlyError("-", "-", 401, "no Fly API token: set FLY_API_TOKEN or the config secret "
                                          "openclaw-fleet:flyApiToken")
        return FlyClient(self.api_url, self._token)

    def __getstate__(self) -> dict:
        # Belt and braces: a configured provider is never pickled with its token.
        return {k: v for k, v in self.__dict__.items() if k != "_token"}
