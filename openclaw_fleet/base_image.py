"""Where the gateway image of a production stack may start from.

Every gateway of a stack is built ``FROM`` its ``baseImage``, and the stack file, which a pull
request can change, names it. A tag (``node:24-bookworm-slim``) is whatever its registry serves
today, and any registry host can be named, so on a stack whose gateways run on Fly.io itself
(``target: fly`` on Fly's own API) the base image must be pinned by digest (``name@sha256:…``,
https://docs.docker.com/reference/cli/docker/image/pull/#pull-an-image-by-digest-immutable-identifier)
and come from a registry host on an allow-list kept outside the repository:
``OPENCLAW_FLEET_BASE_IMAGE_HOSTS`` (comma-separated; default Docker Hub, ``docker.io``). Stacks
whose gateways run on a Docker engine or an emulator the operator runs are left to the operator.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from openclaw_fleet.credential_hosts import FLY_HOSTS, host_and_port
from openclaw_fleet.errors import BaseImageRefused

HOSTS_ENV = "OPENCLAW_FLEET_BASE_IMAGE_HOSTS"
DEFAULT_HOSTS = ("docker.io",)
PINNED = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")


def registry_host(reference: str) -> str:
    """The registry host of an image reference: its first part when that has a dot, a colon or
    is ``localhost`` (Docker's rule), else Docker Hub's ``docker.io``."""
    first, _, rest = reference.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return "docker.io"


def base_image_refusal(
    target: str, fly_api_url: str, base_image: str, environ: Mapping[str, str] = os.environ
) -> str | None:
    """Why ``base_image`` may not be built for a stack of ``target`` on ``fly_api_url``, or None."""
    if target != "fly" or host_and_port("flyApiUrl", fly_api_url)[0] not in FLY_HOSTS:
        return None
    if not PINNED.match(base_image):
        return (
            f"openclaw-fleet:baseImage {base_image} is not pinned by digest: on Fly every gateway is built from "
            "it, and a tag is whatever the registry serves today; write it as name@sha256:<digest> (`docker buildx "
            f"imagetools inspect {base_image}` shows the digest)"
        )
    allowed = {entry.strip().lower() for entry in environ.get(HOSTS_ENV, "").split(",") if entry.strip()}
    host = registry_host(base_image)
    if host not in (allowed or set(DEFAULT_HOSTS)):
        return (
            f"openclaw-fleet:baseImage comes from {host}, which {HOSTS_ENV} does not allow (default: "
            f"{', '.join(DEFAULT_HOSTS)}); add the host there, outside the repository, if it is yours"
        )
    return None


def check_base_image(target: str, fly_api_url: str, base_image: str, environ: Mapping[str, str] = os.environ) -> None:
    """Raise BaseImageRefused with ``base_image_refusal``'s reason, if any."""
    refusal = base_image_refusal(target, fly_api_url, base_image, environ)
    if refusal:
        raise BaseImageRefused(refusal)
