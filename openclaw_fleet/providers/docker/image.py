"""``docker:Image``: the gateway image, built through the Docker Engine API and pushed to a registry.

Outputs the immutable digest reference (``<registry>/openclaw-gateway@sha256:…``). The build
context is the files directly in ``context_dir``; its content hash (with the build args), not its
path, is what the diff compares, so moving the checkout never rebuilds and any change to a file
rebuilds once.

Why a dynamic provider on the Engine API rather than pulumi-docker's ``Image``: that provider
plugin cannot be built or downloaded here; see the README.

Registry credentials: stack config ``registryUsername`` and the secret ``registryPassword``; for
``registry.fly.io`` they default to user ``x`` with ``FLY_API_TOKEN``, as Fly documents
(https://fly.io/docs/blueprints/using-the-fly-docker-registry/). A local registry needs none.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from openclaw_fleet.credential_hosts import check_credential_host
from openclaw_fleet.environment import FLY_API_TOKEN
from openclaw_fleet.providers.base import FleetProvider, FleetResource, ResourceArgs

DIFF_FIELDS = ("context_hash", "repository", "build_args", "platform")


def context_files(context_dir: Path) -> list[Path]:
    """The files of the build context: regular files directly in ``context_dir``, sorted."""
    return sorted(path for path in context_dir.iterdir() if path.is_file())


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


class ImageArgs(ResourceArgs):
    """Inputs: ``context_dir`` (path), ``context_hash`` (``context_hash()``), ``repository``
    (``<registry>/openclaw-gateway``), ``build_args`` and ``platform`` (``os/arch`` to build for,
    such as ``linux/amd64``; None: the engine's own)."""

    context_dir: str
    context_hash: str
    repository: str
    build_args: dict[str, str]
    platform: str | None = None


class ImageState(ImageArgs):
    """The inputs, the pushed manifest's ``digest`` (``sha256:…``) and ``ref`` (repository@digest)."""

    digest: str | None = None
    ref: str | None = None


class ImageProvider(FleetProvider):
    """Builds and pushes on create and on every change; pushed images are never deleted. Id: the repository."""

    args_type = ImageArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = ImageArgs.parse(props)
        return CreateResult(args.repository, outs=self._build_and_push(args))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=self._build_and_push(ImageArgs.parse(news)))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in DIFF_FIELDS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=[])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Present while the registry holds the pushed digest. The registry, not this engine, is
        what machines pull from: a fresh CI runner or a pruned local image must not make refresh
        drop the image and the next ``up`` rebuild it and roll every gateway."""
        ref = props.get("ref")
        found = bool(ref) and self.docker().registry_has(ref, self._credentials(props["repository"]))
        return ReadResult(id_ if found else None, props if found else {})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Pushed images stay in the registry: a digest may still be running somewhere."""

    def _credentials(self, repository: str) -> dict[str, str] | None:
        registry = repository.split("/")[0]
        username = getattr(self, "_registry_username", None)
        password = getattr(self, "_registry_password", None)
        if registry == "registry.fly.io" and not password:
            username, password = username or "x", os.environ.get(FLY_API_TOKEN)
        if not password:
            return None
        check_credential_host("registry", registry)
        return {"username": username or "x", "password": password, "serveraddress": registry}

    def _build_and_push(self, args: ImageArgs) -> dict[str, Any]:
        tag = args.context_hash[:16]
        docker = self.docker()
        context = context_tar(Path(args.context_dir))
        docker.build_image(context, f"{args.repository}:{tag}", args.build_args, args.platform)
        digest = docker.push_image(args.repository, tag, self._credentials(args.repository))
        return ImageState(**args.props(), digest=digest, ref=f"{args.repository}@{digest}").props()


PROVIDER = ImageProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class Image(FleetResource, module="docker", name="Image"):
    """A built and pushed image; ``ref`` is its digest reference."""

    dynamic_provider, state_type = PROVIDER, ImageState
    ref: pulumi.Output[str]
    digest: pulumi.Output[str]
