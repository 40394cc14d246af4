"""Fly provider diffs in preview, where inputs still to be made are unknown."""

from pulumi.output import Unknown

from openclaw_fleet.providers.fly.machine import MachineProvider
from openclaw_fleet.providers.fly.secrets import AppSecretsProvider
from openclaw_fleet.providers.fly.volume import VolumeProvider


def test_fly_diffs_take_unknown_inputs_in_preview():
    olds = {
        "app": "a",
        "name": "m",
        "region": "sjc",
        "config": {"mounts": [{"volume": "v1"}]},
        "min_secrets_version": 1,
        "state": "running",
        "status": "started",
    }
    result = MachineProvider().diff("id", olds, {**olds, "config": Unknown()})
    assert result.changes is True and result.replaces == []
    result = AppSecretsProvider().diff(
        "id", {"app": "a", "values": {"T": "x"}, "names": ["T"]}, {"app": "a", "values": Unknown()}
    )
    assert result.changes is True and result.replaces == []


def test_volume_snapshot_retention_changes_in_place():
    olds = {"app": "a", "name": "openclaw_data", "region": "sjc", "size_gb": 1, "encrypted": True}
    diff = VolumeProvider().diff("vol_1", olds, {**olds, "snapshot_retention": 14})
    assert diff.changes and not diff.replaces
    kept = {**olds, "snapshot_retention": 14}
    assert not VolumeProvider().diff("vol_1", kept, dict(kept)).changes
