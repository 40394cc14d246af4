"""Fly provider diffs: in preview, where inputs still to be made are unknown, and after a refresh."""

import hashlib
import json

from pulumi.output import Unknown

from openclaw_fleet.providers.fly.machine import MachineProvider, config_digest
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


def test_a_restore_replaces_the_volume_once_and_unset_again_changes_nothing():
    olds = {"app": "a", "name": "openclaw_data", "region": "sjc", "size_gb": 1, "encrypted": True}
    restoring = {**olds, "restore_snapshot": "vs_1"}
    assert VolumeProvider().diff("vol_1", olds, restoring).replaces == ["restore_snapshot"]
    assert not VolumeProvider().diff("vol_2", restoring, {**restoring, "restore_snapshot": None}).changes
    assert not VolumeProvider().diff("vol_2", restoring, dict(restoring)).changes  # the same restore: done
    assert not VolumeProvider().diff("vol_1", olds, {**olds, "restore_snapshot": None}).changes  # former states


def machine_state(config_digest_: str) -> dict:
    return {
        "app": "a",
        "name": "m",
        "region": "sjc",
        "config_digest": config_digest_,
        "mounts": [{"volume": "v1", "path": "/data"}],
        "min_secrets_version": 1.0,
        "state": "running",
        "status": "started",
    }


def machine_inputs(config: dict) -> dict:
    return {"app": "a", "name": "m", "region": "sjc", "config": config, "min_secrets_version": 1.0, "state": "running"}


# What the engine hands a provider: every number a double. What the Machines API returns: integers.
FROM_THE_ENGINE = {
    "mounts": [{"volume": "v1", "path": "/data"}],
    "files": [{"mode": 384.0}],
    "services": [{"internal_port": 18789.0}],
}
FROM_FLY = {
    "mounts": [{"volume": "v1", "path": "/data"}],
    "files": [{"mode": 384}],
    "services": [{"internal_port": 18789}],
}


def test_a_refreshed_machine_whose_config_fly_returns_with_integers_is_unchanged():
    refreshed = machine_state(config_digest(FROM_FLY))  # what read records
    assert not MachineProvider().diff("id", refreshed, machine_inputs(FROM_THE_ENGINE)).changes


def test_a_digest_the_previous_version_wrote_from_the_engine_numbers_is_still_unchanged():
    as_written_before = hashlib.sha256(
        json.dumps(FROM_THE_ENGINE, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert not MachineProvider().diff("id", machine_state(as_written_before), machine_inputs(FROM_THE_ENGINE)).changes


def test_a_changed_number_in_the_config_is_a_change():
    moved = {**FROM_THE_ENGINE, "services": [{"internal_port": 18790.0}]}
    diff = MachineProvider().diff("id", machine_state(config_digest(FROM_FLY)), machine_inputs(moved))
    assert diff.changes and not diff.replaces


def test_a_machine_stored_with_its_digest_alone_takes_its_mounts_from_the_config_last_applied():
    # What the provider server hands diff: the stored outputs, and the old inputs where they lack a key.
    olds = {**machine_inputs(FROM_THE_ENGINE), "config_digest": config_digest(FROM_THE_ENGINE), "status": "started"}
    assert not MachineProvider().diff("id", olds, machine_inputs(FROM_THE_ENGINE)).changes
    moved = {**FROM_THE_ENGINE, "mounts": [{"volume": "v2", "path": "/data"}]}
    assert MachineProvider().diff("id", olds, machine_inputs(moved)).replaces == ["config"]


def test_app_secrets_stored_without_names_compare_the_values_last_set_and_a_refresh_the_names_found():
    # Create and update store the version alone; the provider server puts the old inputs back.
    olds = {"app": "a", "values": {"T": "x"}, "version": 1}
    assert not AppSecretsProvider().diff("id", olds, {"app": "a", "values": {"T": "x"}}).changes
    assert AppSecretsProvider().diff("id", olds, {"app": "a", "values": {"T": "x", "K": "y"}}).changes
    refreshed = {**olds, "names": []}  # a refresh found the secret gone from the app
    assert AppSecretsProvider().diff("id", refreshed, {"app": "a", "values": {"T": "x"}}).changes
