"""Field-by-field diff of the container provider: replace only what Docker cannot change in place."""

import pytest

from openclaw_fleet.providers.docker.container import ContainerProvider

BASE = {
    "name": "openclaw-u-1",
    "image": "reg/openclaw-gateway@sha256:aa",
    "command": ["gateway"],
    "env": {"OPENCLAW_GATEWAY_TOKEN": "t"},
    "labels": {"a": "b"},
    "network_id": "n1",
    "volume_name": "v1",
    "mount_path": "/home/node/.openclaw",
    "cpus": 1,
    "memory_mb": 2048,
    "pids_limit": 512,
    "restart_policy": "unless-stopped",
    "publish_host": None,
    "files": {"openclaw.json": "{}"},
    "state": "running",
    "health_timeout_s": 240,
}


def diff(changes: dict, olds_extra: dict | None = None):
    olds = {**BASE, "status": "running", "gateway_url": "http://x", **(olds_extra or {})}
    return ContainerProvider().diff("id", olds, {**BASE, **changes})


def test_no_change_is_no_diff():
    result = diff({})
    assert result.changes is False and result.replaces == []


@pytest.mark.parametrize(
    "key, value",
    [
        ("image", "reg/openclaw-gateway@sha256:bb"),
        ("env", {"OPENCLAW_GATEWAY_TOKEN": "u"}),
        ("command", ["gateway", "--x"]),
        ("network_id", "n2"),
        ("volume_name", "v2"),
        ("publish_host", "127.0.0.1"),
    ],
)
def test_fields_docker_cannot_change_replace_the_container(key, value):
    result = diff({key: value})
    assert result.changes is True and result.replaces == [key] and result.delete_before_replace is True


@pytest.mark.parametrize(
    "key, value",
    [
        ("files", {"openclaw.json": '{"x": 1}'}),
        ("state", "stopped"),
        ("cpus", 2),
        ("memory_mb", 4096),
        ("pids_limit", 256),
        ("restart_policy", "always"),
    ],
)
def test_fields_docker_changes_in_place_update(key, value):
    result = diff({key: value})
    assert result.changes is True and result.replaces == []


def test_container_found_stopped_is_started_again():
    result = diff({}, {"status": "stopped"})
    assert result.changes is True and result.replaces == []
