"""``GatewayImage``: the gateway image from ``image/``, built and pushed to the stack's registry.

Its output ``ref`` is the digest reference (``<registry>/openclaw-gateway@sha256:…``). A change to
the build context or the build args rebuilds and pushes once; new users start on it, users
already running move to it through ``fleet rollout`` (``openclaw_fleet/user_images.py``). For Fly the
image is built for ``linux/amd64``, the only architecture Fly Machines run, whatever the
workstation's engine is (an arm64 laptop included).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pulumi

from openclaw_fleet.providers.docker.image import Image, ImageArgs, context_hash

REPOSITORY_NAME = "openclaw-gateway"


@dataclass(frozen=True)
class GatewayImageArgs:
    """``context_dir``: the build context (``image/``); ``registry``: ``host:port`` or
    ``registry.fly.io/<app>``; ``build_args``: e.g. ``{"BASE_IMAGE": …}``; ``platform``: ``os/arch``
    to build for (None: the engine's own)."""

    context_dir: Path
    registry: str
    build_args: dict[str, str] = field(default_factory=dict)
    platform: str | None = None


class GatewayImage(pulumi.ComponentResource):
    """The gateway image; output ``ref``, the digest reference."""

    ref: pulumi.Output[str]

    def __init__(self, name: str, args: GatewayImageArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("openclaw:fleet:GatewayImage", name, None, opts)
        image = Image(
            name,
            ImageArgs(
                context_dir=str(args.context_dir),
                context_hash=context_hash(args.context_dir, args.build_args),
                repository=f"{args.registry}/{REPOSITORY_NAME}",
                build_args=args.build_args,
                platform=args.platform,
            ),
            pulumi.ResourceOptions(parent=self),
        )
        self.ref = image.ref
        self.register_outputs({"ref": self.ref})
