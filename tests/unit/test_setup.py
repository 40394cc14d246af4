"""bin/setup installs only what the chosen stack needs: with Pulumi on PATH and a Fly stack that
builds on a remote Docker engine, it needs no root, no Docker engine and no system package."""

import fcntl
import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _stub(directory: Path, name: str, body: str) -> None:
    path = directory / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _checkout(tmp_path: Path, stack_file: str) -> tuple[Path, dict[str, str], Path]:
    """A copy of what bin/setup reads, stubs for pulumi, docker, apt-get and id (a non-root user),
    and a cache whose virtualenv is this checkout's (so nothing is installed from PyPI)."""
    root = tmp_path / "checkout"
    (root / "bin").mkdir(parents=True)
    shutil.copy(ROOT / "bin" / "setup", root / "bin" / "setup")
    shutil.copy(ROOT / "requirements.lock", root / "requirements.lock")
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    shutil.copytree(ROOT / "openclaw_fleet", root / "openclaw_fleet", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tools" / "pulumi", root / "tools" / "pulumi")
    (root / "Pulumi.remote.yaml").write_text(stack_file)
    stubs, calls = tmp_path / "stubs", tmp_path / "calls"
    stubs.mkdir()
    for name in ("apt-get", "dockerd", "debootstrap", "docker-registry"):
        _stub(stubs, name, f'echo "{name} $*" >> {calls}; exit 1')
    _stub(stubs, "pulumi", "echo v3.259.0")
    _stub(stubs, "docker", f'echo "docker $*" >> {calls}; exit 1')  # no engine answers
    _stub(stubs, "id", "echo 1000")
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {
        **os.environ,
        "PATH": f"{stubs}:/usr/bin:/bin",
        "OPENCLAW_FLEET_CACHE": str(cache),
        "OPENCLAW_FLEET_STACK": "remote",
    }
    env.pop("OPENCLAW_FLEET_SETUP_STACK", None)
    # bin/setup keys the virtualenv by requirements.lock and the python3 on its PATH.
    python3 = subprocess.run(["python3", "--version"], env=env, capture_output=True).stdout
    keyed = (ROOT / "requirements.lock").read_bytes() + python3
    digest = subprocess.run(["sh", "-c", "sha256sum | cut -c1-12"], input=keyed, capture_output=True).stdout
    digest = digest.decode().strip()
    (cache / f"venv-{digest}").symlink_to((ROOT / ".venv").resolve())
    return root, env, calls


def test_a_fly_stack_with_a_remote_builder_needs_no_root_and_no_docker_engine(tmp_path):
    root, env, calls = _checkout(
        tmp_path,
        "config:\n  openclaw-fleet:target: fly\n  openclaw-fleet:registry: registry.fly.io/x\n"
        "  openclaw-fleet:dockerHost: tcp://builder.internal:2375\n",
    )
    result = subprocess.run([str(root / "bin" / "setup")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert not calls.exists(), calls.read_text()  # no package manager, no engine, no registry asked for
    (env_file,) = (tmp_path / "cache").glob("env-*.sh")  # this checkout's own
    assert f"{tmp_path / 'stubs'}:" in env_file.read_text()  # the Pulumi found on PATH


def test_a_docker_stack_without_an_engine_says_what_is_missing_instead_of_installing(tmp_path):
    root, env, calls = _checkout(tmp_path, "config:\n  openclaw-fleet:target: docker\n")
    result = subprocess.run([str(root / "bin" / "setup")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "not root, so not installing it myself" in result.stderr
    assert "apt-get" not in (calls.read_text() if calls.exists() else "")


def test_an_old_go_is_named_before_anything_is_built(tmp_path):
    """Debian 12's golang-go is 1.19: the build of Pulumi would fail minutes later, in Go's words."""
    root, env, calls = _checkout(tmp_path, "config:\n  openclaw-fleet:target: docker\n")
    stubs = Path(env["PATH"].split(":")[0])
    (stubs / "pulumi").unlink()
    _stub(
        stubs, "go", f'if [ "$1 $2" = "env GOVERSION" ]; then echo go1.19.8; else echo "go $*" >> {calls}; exit 1; fi'
    )
    result = subprocess.run([str(root / "bin" / "setup")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert (
        "building Pulumi needs Go 1.25.11 or newer (tools/pulumi/go.mod) and this machine has Go 1.19.8"
        in result.stderr
    )
    assert not calls.exists() or "go build" not in calls.read_text()


def test_old_gateway_images_are_removed_only_while_no_fleet_command_runs(tmp_path):
    """Another checkout's run holds the images lock shared while it runs (bin/fleet): an untagged
    gateway image may be the one it has just built, so set-up leaves images alone until it ends."""
    root, env, calls = _checkout(
        tmp_path,
        "config:\n  openclaw-fleet:target: docker\n  openclaw-fleet:registry: 127.0.0.1:5000\n"
        "  openclaw-fleet:baseImage: elsewhere/node:24\n",
    )
    stubs = Path(env["PATH"].split(":")[0])
    _stub(
        stubs,
        "docker",
        f'echo "docker $*" >> {calls}; case "$1" in info) exit 0 ;; '
        'images) echo "127.0.0.1:5000/openclaw-gateway <none> sha256:0ld" ;; esac; exit 0',
    )
    with (tmp_path / "cache" / "images.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # as a `bin/fleet` command of another checkout holds it
        result = subprocess.run([str(root / "bin" / "setup")], env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "docker image rm" not in calls.read_text()
    result = subprocess.run([str(root / "bin" / "setup")], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "docker image rm sha256:0ld" in calls.read_text()


def test_check_lists_what_is_missing_and_installs_starts_or_writes_nothing(tmp_path):
    root, env, calls = _checkout(
        tmp_path, "config:\n  openclaw-fleet:target: docker\n  openclaw-fleet:registry: 127.0.0.1:5999\n"
    )
    (tmp_path / "stubs" / "pulumi").unlink()  # no Pulumi on PATH, and none built yet
    result = subprocess.run([str(root / "bin" / "setup"), "--check"], env=env, capture_output=True, text=True)
    assert result.returncode == 1, result.stderr
    assert "the Pulumi CLI v3.259.0: none on PATH, so it is built from Go source" in result.stderr
    assert "a Docker engine that answers" in result.stderr
    calls_made = calls.read_text() if calls.exists() else ""
    assert "apt-get" not in calls_made and "dockerd" not in calls_made and "docker-registry" not in calls_made
    assert not list((tmp_path / "cache").glob("env-*.sh")) and not (root / ".venv").exists()
