"""The one HTTP client for the Docker Engine API (v1.41, Docker 20.10 and later).

Providers call the methods here and never touch raw HTTP. The client speaks httpx over the
engine's unix socket (``unix:///var/run/docker.sock``) or TCP (``tcp://host:2375``), with explicit
timeouts, and turns every non-2xx answer into ``DockerApiError`` and a call without an answer (engine not
reachable, or no answer within the call's timeout) into ``DockerUnreachable``.

One client is shared by a provider process's threads, so calls reuse pooled keep-alive
connections, and the engine can close one just as a call goes out on it: httpx then raises
``RemoteProtocolError`` ("Server disconnected without sending a response", encode/httpx#2983).
A call is sent again, up to three times in all, when it never reached the engine (could not
connect) or when it is safe to repeat and the connection broke before an answer: an idempotent
method (GET, HEAD, PUT, DELETE: RFC 9110 §9.2.2), or a POST whose second sending changes nothing
(starting a running container or stopping a stopped one answers 304; a volume created again is
the same volume; a wait waits again). Other POSTs whose answer was lost are not repeated (creating
a container or a network twice fails on its name, an exec started twice runs twice), and a call
that timed out is not either (it already waited its whole timeout).

Reference: https://docs.docker.com/engine/api/v1.41/
"""

from __future__ import annotations

import base64
import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from openclaw_fleet.errors import DockerApiError, DockerUnreachable
from openclaw_fleet.settings import DEFAULT_DOCKER_HOST

API_VERSION = "v1.41"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
ATTEMPTS = 3
# What httpx raises when a connection broke after the call went out and before an answer came.
BROKEN_CONNECTION = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def docker_client(host: str = DEFAULT_DOCKER_HOST, timeout: float = 60.0) -> DockerClient:
    """Return a client for ``host`` (``unix://<socket path>`` or ``tcp://<host>:<port>``)."""
    if host.startswith("unix://"):
        transport = httpx.HTTPTransport(uds=host.removeprefix("unix://"))
        base = "http://docker"
    elif host.startswith("tcp://"):
        transport = httpx.HTTPTransport()
        base = "http://" + host.removeprefix("tcp://")
    else:
        raise ValueError(f"unsupported Docker host {host!r}: use unix:// or tcp://")
    return DockerClient(httpx.Client(transport=transport, base_url=f"{base}/{API_VERSION}", timeout=timeout))


class DockerClient:
    """Thin, typed calls on the Engine API. Use as a context manager so the socket is closed."""

    def __init__(self, http: httpx.Client):
        self._http = http

    def __enter__(self) -> DockerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    # -- plumbing ---------------------------------------------------------------------------------

    def _call(
        self, method: str, path: str, *, ok_404: bool = False, safe_to_repeat: bool | None = None, **kwargs: Any
    ) -> httpx.Response | None:
        """Send one call; ``safe_to_repeat`` defaults to whether ``method`` is idempotent."""
        if safe_to_repeat is None:
            safe_to_repeat = method in IDEMPOTENT_METHODS
        send_again = Retrying(
            retry=retry_if_exception(lambda error: _worth_sending_again(error, safe_to_repeat)),
            stop=stop_after_attempt(ATTEMPTS),
            wait=wait_exponential_jitter(initial=0.1, max=1.0, jitter=0.1),
            reraise=True,
        )
        try:
            response = send_again(self._http.request, method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise DockerUnreachable(method, path, _reason(exc)) from None
        if response.status_code == 404 and ok_404:
            return None
        if response.status_code >= 400:
            raise DockerApiError(method, path, response.status_code, _message(response))
        return response

    def _stream(self, method: str, path: str, **kwargs: Any) -> Iterator[dict]:
        """Yield the JSON messages of a streaming endpoint (build, push); raise on an error message."""
        try:
            with self._http.stream(method, path, timeout=httpx.Timeout(30.0, read=1800.0), **kwargs) as response:
                if response.status_code >= 400:
                    response.read()
                    raise DockerApiError(method, path, response.status_code, _message(response))
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    message = json.loads(line)
                    if "error" in message:
                        raise DockerApiError(method, path, 200, message.get("error", "").strip())
                    yield message
        except httpx.HTTPError as exc:
            raise DockerUnreachable(method, path, _reason(exc)) from None

    # -- networks ---------------------------------------------------------------------------------

    def create_network(self, name: str, labels: dict[str, str]) -> str:
        """POST /networks/create: a bridge network with outbound access; returns its id."""
        body = {"Name": name, "Driver": "bridge", "CheckDuplicate": True, "Labels": labels}
        return self._call("POST", "/networks/create", json=body).json()["Id"]

    def inspect_network(self, network_id: str) -> dict | None:
        """GET /networks/{id}; None when it does not exist."""
        response = self._call("GET", f"/networks/{network_id}", ok_404=True)
        return response.json() if response else None

    def remove_network(self, network_id: str) -> None:
        """DELETE /networks/{id}; a network already gone is fine."""
        self._call("DELETE", f"/networks/{network_id}", ok_404=True)

    # -- volumes ----------------------------------------------------------------------------------

    def create_volume(self, name: str, labels: dict[str, str]) -> dict:
        """POST /volumes/create with the local driver; returns the volume (its id is its name)."""
        body = {"Name": name, "Labels": labels}
        return self._call("POST", "/volumes/create", json=body, safe_to_repeat=True).json()

    def inspect_volume(self, name: str) -> dict | None:
        """GET /volumes/{name}; None when it does not exist."""
        response = self._call("GET", f"/volumes/{name}", ok_404=True)
        return response.json() if response else None

    def remove_volume(self, name: str) -> None:
        """DELETE /volumes/{name}; 409 (DockerApiError) while a container still uses it."""
        self._call("DELETE", f"/volumes/{name}", ok_404=True)

    # -- containers -------------------------------------------------------------------------------

    def create_container(self, name: str, config: dict) -> str:
        """POST /containers/create?name=…; returns the new container's id."""
        return self._call("POST", "/containers/create", params={"name": name}, json=config).json()["Id"]

    def inspect_container(self, container_id: str) -> dict | None:
        """GET /containers/{id}/json; None when it does not exist."""
        response = self._call("GET", f"/containers/{container_id}/json", ok_404=True)
        return response.json() if response else None

    def start_container(self, container_id: str) -> None:
        """POST /containers/{id}/start (304 when already running is fine)."""
        self._call("POST", f"/containers/{container_id}/start", safe_to_repeat=True)

    def stop_container(self, container_id: str, timeout_s: int = 30) -> None:
        """POST /containers/{id}/stop?t=…: SIGTERM, then SIGKILL after ``timeout_s`` seconds."""
        self._call(
            "POST",
            f"/containers/{container_id}/stop",
            params={"t": timeout_s},
            timeout=timeout_s + 30.0,
            safe_to_repeat=True,
        )

    def restart_container(self, container_id: str, timeout_s: int = 30) -> None:
        """POST /containers/{id}/restart?t=…."""
        self._call("POST", f"/containers/{container_id}/restart", params={"t": timeout_s}, timeout=timeout_s + 30.0)

    def update_container(self, container_id: str, resources: dict) -> None:
        """POST /containers/{id}/update: CPU, memory, pids limits and restart policy, in place."""
        self._call("POST", f"/containers/{container_id}/update", json=resources, safe_to_repeat=True)

    def remove_container(self, container_id: str) -> None:
        """DELETE /containers/{id}?force=true; a container already gone is fine."""
        self._call("DELETE", f"/containers/{container_id}", params={"force": "true"}, ok_404=True)

    def put_files(self, container_id: str, directory: str, files: dict[str, str], uid: int, gid: int) -> None:
        """PUT /containers/{id}/archive?path=…: write ``files`` (name → text) into ``directory``.

        Works on a created or stopped container too, and so reaches into its volumes. Files are
        owned by ``uid:gid`` with mode 0600.
        """
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for name, text in sorted(files.items()):
                data = text.encode()
                info = tarfile.TarInfo(name)
                info.size, info.mode, info.uid, info.gid = len(data), 0o600, uid, gid
                tar.addfile(info, io.BytesIO(data))
        self._call(
            "PUT",
            f"/containers/{container_id}/archive",
            params={"path": directory},
            content=buffer.getvalue(),
            headers={"Content-Type": "application/x-tar"},
        )

    def logs(self, container_id: str, tail: int = 20) -> str:
        """GET /containers/{id}/logs: the last ``tail`` lines of stdout and stderr, as text."""
        response = self._call(
            "GET", f"/containers/{container_id}/logs", params={"stdout": 1, "stderr": 1, "tail": tail}, ok_404=True
        )
        return _demux(response.content) if response else ""

    def exec_run(self, container_id: str, cmd: list[str], timeout_s: float = 60.0) -> tuple[int, str]:
        """Run ``cmd`` in a running container (POST /containers/{id}/exec, /exec/{id}/start) and
        wait up to ``timeout_s`` seconds for it to finish. Returns (exit code, combined output);
        raises DockerUnreachable when it did not finish in time.
        """
        created = self._call(
            "POST", f"/containers/{container_id}/exec", json={"Cmd": cmd, "AttachStdout": True, "AttachStderr": True}
        ).json()
        output = self._call(
            "POST",
            f"/exec/{created['Id']}/start",
            json={"Detach": False, "Tty": False},
            timeout=httpx.Timeout(30.0, read=timeout_s),
        )
        code = self._call("GET", f"/exec/{created['Id']}/json").json()["ExitCode"]
        return code, _demux(output.content)

    def run_helper(self, image: str, cmd: list[str], mounts: list[dict], timeout_s: float = 600) -> tuple[int, str]:
        """Run a one-off root container of ``image`` with ``mounts`` (Engine API Mount objects) to
        completion (POST /containers/create, /start, /wait), remove it; return (exit code, output)."""
        config = {
            "Image": image,
            "Cmd": cmd,
            "User": "0:0",
            "Entrypoint": [],
            "HostConfig": {"Mounts": mounts, "NetworkMode": "none"},
        }
        container_id = self._call("POST", "/containers/create", json=config).json()["Id"]
        try:
            self.start_container(container_id)
            waited = self._call("POST", f"/containers/{container_id}/wait", timeout=timeout_s, safe_to_repeat=True)
            code = waited.json()["StatusCode"]
            return code, self.logs(container_id, tail=50)
        finally:
            self.remove_container(container_id)

    def list_labelled(self, kind: str, label: str) -> list[dict]:
        """GET /containers/json (all), /volumes or /networks filtered by ``label`` (``key[=value]``)."""
        params: dict[str, Any] = {"filters": json.dumps({"label": [label]})}
        path = f"/{kind}"
        if kind == "containers":
            params["all"], path = "true", "/containers/json"
        data = self._call("GET", path, params=params).json()
        return (data["Volumes"] or []) if kind == "volumes" else data

    # -- images -----------------------------------------------------------------------------------

    def build_image(
        self, context_tar: bytes, tag: str, build_args: dict[str, str], platform: str | None = None
    ) -> list[str]:
        """POST /build with a tar build context, for ``platform`` (``os/arch``; None: the engine's
        own); returns the build's output lines."""
        params = {"t": tag, "buildargs": json.dumps(build_args), "rm": "true", "forcerm": "true"}
        if platform:
            params["platform"] = platform
        lines = []
        for message in self._stream(
            "POST", "/build", params=params, content=context_tar, headers={"Content-Type": "application/x-tar"}
        ):
            if "stream" in message:
                lines.append(message["stream"].rstrip())
        return lines

    def push_image(self, repository: str, tag: str, credentials: dict[str, str] | None = None) -> str:
        """POST /images/{repository}/push?tag=…; returns the pushed manifest's digest (sha256:…).

        ``credentials`` (``username``, ``password``, ``serveraddress``) go in X-Registry-Auth.
        """
        digest = None
        headers = {"X-Registry-Auth": _registry_auth(credentials)}
        for message in self._stream("POST", f"/images/{repository}/push", params={"tag": tag}, headers=headers):
            digest = message.get("aux", {}).get("Digest", digest)
        if not digest:
            raise DockerApiError(
                "POST", f"/images/{repository}/push", 200, "the push finished without reporting a digest"
            )
        return digest

    def registry_has(self, ref: str, credentials: dict[str, str] | None = None) -> bool:
        """GET /distribution/{ref}/json: whether the registry holds ``ref`` (``repository@sha256:…``),
        asked through the engine, which uses its own registry settings and ``credentials`` (as in
        ``push_image``). False on the registry's "manifest unknown" (404); DockerApiError when the
        registry cannot be reached or refuses the credentials.
        https://docs.docker.com/reference/api/engine/version/v1.41/#tag/Distribution
        """
        headers = {"X-Registry-Auth": _registry_auth(credentials)}
        return self._call("GET", f"/distribution/{ref}/json", ok_404=True, headers=headers) is not None

    def pull_image(self, ref: str) -> None:
        """POST /images/create?fromImage={ref}: pull ``ref`` (``repository@sha256:…``) from its
        registry; DockerApiError when the pull fails (its message is the engine's)."""
        for _ in self._stream("POST", "/images/create", params={"fromImage": ref}):
            pass

    def list_images(self, reference: str) -> list[dict]:
        """GET /images/json filtered by ``reference`` (``repository`` or ``repository:tag``), newest first."""
        images = self._call("GET", "/images/json", params={"filters": json.dumps({"reference": [reference]})}).json()
        return sorted(images, key=lambda image: image.get("Created", 0), reverse=True)

    def inspect_image(self, ref: str) -> dict | None:
        """GET /images/{ref}/json; None when the engine does not have it."""
        response = self._call("GET", f"/images/{ref}/json", ok_404=True)
        return response.json() if response else None


def _registry_auth(credentials: dict[str, str] | None) -> str:
    """The X-Registry-Auth header's value: the credentials' JSON, base64url (the Engine API's form)."""
    return base64.urlsafe_b64encode(json.dumps(credentials or {}).encode()).decode()


def _worth_sending_again(error: BaseException, safe_to_repeat: bool) -> bool:
    """Whether a call that failed with ``error`` is sent again: it never reached the engine, or
    its connection broke before an answer and sending it twice does nothing twice."""
    if isinstance(error, httpx.ConnectError):
        return True
    return isinstance(error, BROKEN_CONNECTION) and safe_to_repeat


def _reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return f"the engine did not answer within the call's timeout ({type(exc).__name__})"
    if isinstance(exc, BROKEN_CONNECTION):
        return f"the connection broke before the engine answered ({type(exc).__name__})"
    return f"could not reach the engine ({type(exc).__name__})"


def _message(response: httpx.Response) -> str:
    try:
        return response.json().get("message", response.text).strip()
    except ValueError:
        return response.text.strip()[:500]


def _demux(raw: bytes) -> str:
    """Join Docker's multiplexed stdout/stderr frames (8-byte headers) into text."""
    out, i = [], 0
    while i + 8 <= len(raw) and raw[i] in (0, 1, 2):
        size = int.from_bytes(raw[i + 4 : i + 8], "big")
        out.append(raw[i + 8 : i + 8 + size])
        i += 8 + size
    if i < len(raw):
        out.append(raw[i:])
    return b"".join(out).decode(errors="replace")
