"""A stack whose gateways run on Fly.io builds them only from a base image pinned by digest, from
a registry host allowed outside the repository; Docker and emulator stacks are the operator's."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from openclaw_fleet.base_image import base_image_refusal, registry_host

ROOT = Path(__file__).resolve().parents[2]
FLY = "https://api.machines.dev"
DIGEST = "@sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "image, environ, words",
    [
        ("node:24-bookworm-slim", {}, "is not pinned by digest"),
        ("ghcr.io/evil/node:24", {}, "is not pinned by digest"),
        ("ghcr.io/evil/node" + DIGEST, {}, "comes from ghcr.io, which OPENCLAW_FLEET_BASE_IMAGE_HOSTS does not allow"),
        ("node" + DIGEST, {"OPENCLAW_FLEET_BASE_IMAGE_HOSTS": "ghcr.io"}, "comes from docker.io"),
        ("node:24-bookworm-slim" + DIGEST, {}, None),
        ("ghcr.io/team/node" + DIGEST, {"OPENCLAW_FLEET_BASE_IMAGE_HOSTS": "GHCR.io, quay.io"}, None),
    ],
)
def test_a_fly_stack_builds_from_a_pinned_image_of_an_allowed_host(image, environ, words):
    refusal = base_image_refusal("fly", FLY, image, environ)
    assert (refusal is None) if words is None else (words in refusal)


def test_docker_and_emulator_stacks_are_the_operators():
    assert base_image_refusal("docker", FLY, "openclaw-fleet/node:24.21.0", {}) is None
    assert base_image_refusal("fly", "http://127.0.0.1:4280", "openclaw-fleet/node:24.21.0", {}) is None


def test_registry_hosts_as_docker_reads_them():
    assert [
        registry_host(ref) for ref in ("node", "library/node", "localhost/x", "127.0.0.1:5000/x", "ghcr.io/a/b")
    ] == [
        "docker.io",
        "docker.io",
        "localhost",
        "127.0.0.1:5000",
        "ghcr.io",
    ]


def test_the_shipped_fly_stack_with_a_tag_is_refused_before_any_stack(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PULUMI_", "CI", "FLY_"))}
    env |= {"PULUMI_BACKEND_URL": f"file://{tmp_path}", "PULUMI_CONFIG_PASSPHRASE": "x"}
    result = subprocess.run(
        [sys.executable, "-m", "openclaw_fleet.cli", "preview", "--stack", "fly"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "openclaw-fleet:baseImage node:24-bookworm-slim is not pinned" in result.stderr
    assert not any(tmp_path.iterdir())  # no stack was made
