"""Fly provider diffs in preview, where inputs still to be made are unknown."""

from pulumi.output import Unknown

from openclaw_fleet.providers.fly.machine import MachineProvider
from openclaw_fleet.providers.fly.secrets import AppSecretsProvider


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
