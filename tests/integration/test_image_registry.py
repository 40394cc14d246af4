"""The gateway image's presence is the registry's, not the local engine's: refresh keeps an image
the registry holds though this engine has lost it (a fresh CI runner, a pruned workstation), and the
engine pulls it back (what a container create does when it lacks its image). Real Docker engine and
the local registry bin/setup starts."""

import io
import subprocess
import tarfile
import uuid

import pytest

from openclaw_fleet.errors import DockerApiError
from openclaw_fleet.providers.docker.client import docker_client
from openclaw_fleet.providers.docker.image import ImageProvider
from tests.integration.fleet import LOCAL_BASE_IMAGE, LOCAL_REGISTRY

pytestmark = pytest.mark.integration

REPOSITORY = f"{LOCAL_REGISTRY}/openclaw-fleet-test-image-read"


def context(nonce: str) -> bytes:
    dockerfile = f"FROM {LOCAL_BASE_IMAGE}\nLABEL openclaw-fleet.test={nonce}\n".encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def pushed_then_removed_here():
    """``repository@digest`` of an image pushed to the local registry and then removed from the engine."""
    nonce = uuid.uuid4().hex[:12]
    with docker_client() as docker:
        docker.build_image(context(nonce), f"{REPOSITORY}:{nonce}", {})
        digest = docker.push_image(REPOSITORY, nonce)
    ref = f"{REPOSITORY}@{digest}"
    subprocess.run(["docker", "image", "rm", f"{REPOSITORY}:{nonce}"], capture_output=True, check=True)
    yield ref
    subprocess.run(["docker", "image", "rm", ref], capture_output=True)


def test_refresh_keeps_an_image_the_registry_holds_though_this_engine_lost_it(pushed_then_removed_here):
    ref = pushed_then_removed_here
    with docker_client() as docker:
        assert docker.inspect_image(ref) is None
    found = ImageProvider().read(REPOSITORY, {"ref": ref, "repository": REPOSITORY})
    assert found.id == REPOSITORY and found.outs["ref"] == ref


def test_refresh_drops_an_image_the_registry_does_not_hold(pushed_then_removed_here):
    unknown = f"{REPOSITORY}@sha256:{'0' * 64}"
    found = ImageProvider().read(REPOSITORY, {"ref": unknown, "repository": REPOSITORY})
    assert found.id is None and found.outs == {}


def test_an_unreachable_registry_fails_the_refresh_instead_of_dropping_the_image():
    repository = "127.0.0.1:9/openclaw-gateway"  # the discard port: nothing listens there
    with pytest.raises(DockerApiError) as caught:
        ImageProvider().read(repository, {"ref": f"{repository}@sha256:{'0' * 64}", "repository": repository})
    assert caught.value.path.startswith("/distribution/127.0.0.1:9/") and "connection refused" in caught.value.message


def test_the_engine_pulls_back_the_image_it_lacks(pushed_then_removed_here):
    ref = pushed_then_removed_here
    with docker_client() as docker:
        docker.pull_image(ref)
        assert docker.inspect_image(ref)["RepoDigests"] == [ref]
