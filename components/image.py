"""GatewayImage: build the gateway image from ``image/`` and push it to the stack's registry.

The component's output ``ref`` is the immutable digest reference (``<registry>/openclaw-gateway@
sha256:…``). Gateways take their image from that output, so a change to the build context or
the build args rebuilds and pushes once, and then updates exactly the gateways, each of which
sees a new ``image`` input.

Why a dynamic provider on the Docker Engine API rather than pulumi-docker's Image resource: the
pulumi-docker provider plugin cannot be built here (the Go module proxy refuses its module), and
the Pulumi plugin downloads are unreachable; see the README.

The build context is the files directly in ``image/`` (not ``image/base/``, which set-up uses).
Its content hash, not its path, is what the diff compares, so moving the checkout never rebuilds.
"""

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import ConfigureRequest, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.docker.client import DockerProvider

REPOSITORY_NAME = "openclaw-gateway"


def context_files(context_dir: Path) -> list[Path]:
    """The files of the build context: regular files directly in ``context_dir``, sorted."""
    return sorted(p for p in context_dir.iterdir() if p.is_file())


def context_tar(context_dir: Path) -> bytes:
    """A deterministic tar of the build context (fixed mtimes and owners, modes kept)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in context_files(context_dir):
            data = path.read_bytes()
            info = tarfile.TarInfo(path.name)
            info.size, info.mode, info.mtime = len(data), path.stat().st_mode & 0o777, 0
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def context_hash(context_dir: Path, build_args: dict[str, str]) -> str:
    """sha256 hex of the context tar and the build args: the image's identity before it is built."""
    digest = hashlib.sha256(context_tar(context_dir))
    for key in sorted(build_args):
        digest.update(f"\0{key}={build_args[key]}".encode())
    return digest.hexdigest()


class ImageProvider(DockerProvider):
    """Inputs: ``context_dir``, ``context_hash``, ``repository``, ``build_args``.
    Outputs: the inputs, ``digest`` (sha256:…) and ``ref`` (repository@digest).

    Registry credentials: stack config ``registryUsername`` and the secret ``registryPassword``;
    for ``registry.fly.io`` they default to user ``x`` with ``FLY_API_TOKEN`` (Fly's documented
    `docker login registry.fly.io -u x`). A local registry needs none.
    """

    _username: str | None = None
    _password: str | None = None

    def configure(self, req: ConfigureRequest) -> None:
        super().configure(req)
        self._username = req.config.get("registryUsername")
        self._password = req.config.get("registryPassword")

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("_username", "_password")}

    def _credentials(self, repository: str) -> dict[str, str] | None:
        registry = repository.split("/")[0]
        username, password = self._username, self._password
        if registry == "registry.fly.io" and not password:
            username, password = username or "x", os.environ.get("FLY_API_TOKEN")
        if not password:
            return None
        return {"username": username or "x", "password": password, "serveraddress": registry}

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(props["repository"], outs=self._build_and_push(props))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._build_and_push(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in ("context_hash", "repository", "build_args") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.docker() as docker:
            found = docker.inspect_image(props["ref"]) if props.get("ref") else None
        return ReadResult(id_ if found else None, props if found else {})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Pushed images stay in the registry: a digest may still be running somewhere."""

    def _build_and_push(self, props: dict[str, Any]) -> dict[str, Any]:
        tag = props["context_hash"][:16]
        with self.docker() as docker:
            docker.build_image(context_tar(Path(props["context_dir"])), f"{props['repository']}:{tag}",
                               props["build_args"])
            digest = docker.push_image(props["repository"], tag, self._credentials(props["repository"]))
        return {**props, "digest": digest, "ref": f"{props['repository']}@{digest}"}


class _Image(Resource, module="docker", name="Image"):
    ref: pulumi.Output[str]
    digest: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions):
        super().__init__(ImageProvider(), resource_name, {**props, "ref": None, "digest": None}, opts)


class GatewayImage(pulumi.ComponentResource):
    """The gateway image, built from ``context_dir`` and pushed to ``registry``.

    Args: ``context_dir`` (Path to ``image/``), ``registry`` (``host:port`` or ``registry.fly.io``),
    ``build_args`` (e.g. ``{"BASE_IMAGE": …}``). Output: ``ref``, the digest reference.
    """

    ref: pulumi.Output[str]

    def __init__(self, name: str, context_dir: Path, registry: str, build_args: dict[str, str],
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__("openclaw:fleet:GatewayImage", name, None, opts)
        image = _Image(name, {
            "context_dir": str(context_dir),
            "context_hash": context_hash(context_dir, build_args),
            "repository": f"{registry}/{REPOSITORY_NAME}",
            "build_args": build_args,
        }, pulumi.ResourceOptions(parent=self))
        self.ref = image.ref
        self.register_outputs({"ref": self.ref})
