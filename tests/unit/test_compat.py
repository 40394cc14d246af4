"""What compat/ keeps for stacks of earlier versions: former provider paths still unpickle to
today's providers, former entries are deleted without touching anything, old machine outputs
are read in today's shape, and the former component type stays an alias."""

import pickle

import pytest

from openclaw_fleet.compat import former_paths, machine_state, whole_outputs
from openclaw_fleet.compat.former_types import FORMER_GATEWAY_TYPE, former_gateway_aliases
from openclaw_fleet.compat.ip_assignment import IPAssignmentProvider
from openclaw_fleet.compat.machine_ready import MachineReadyProvider
from openclaw_fleet.providers.fly.app import AppProvider
from openclaw_fleet.providers.fly.machine import MachineProvider


@pytest.mark.parametrize(
    ("path", "name"), [(path, name) for path, names in former_paths.FORMER_PATHS.items() for name in names]
)
def test_a_provider_stored_under_a_former_path_unpickles_to_todays_class(path, name):
    """A stored ``__provider`` names its class by module path (protocol 0: ``c<module>\\n<name>``)."""
    found = pickle.loads(f"c{path}\n{name}\n.".encode())
    assert found is former_paths.FORMER_PATHS[path][name]


def test_former_paths_name_todays_providers_and_the_moved_ones():
    assert pickle.loads(b"ccomponents.fly.app\nAppProvider\n.") is AppProvider
    assert pickle.loads(b"ccomponents.fly.machine\nMachineProvider\n.") is MachineProvider
    moved = pickle.loads(b"copenclaw_fleet.providers.fly.machine_ready\nMachineReadyProvider\n.")
    assert moved is MachineReadyProvider
    with pytest.raises((ModuleNotFoundError, AttributeError)):
        pickle.loads(b"ccomponents.fly.app\nNoSuchProvider\n.")


def test_former_entries_are_kept_on_refresh_and_deleted_without_a_call():
    """Both providers' deletes must not reach Fly: the machine and the addresses are the user's."""
    ready = MachineReadyProvider()
    props = {"app": "a", "machine_id": "m1", "status": "started"}
    assert ready.read("m1-ready", props).outs == props
    assert ready.delete("m1-ready", props) is None
    assert IPAssignmentProvider().delete("2a09::1", {"app": "a", "type": "v6", "ip": "2a09::1"}) is None


def test_old_machine_outputs_get_todays_digest_and_new_ones_are_left_alone():
    old = {"config": {"guest": {"memory_mb": 384.0}}}
    upgraded = machine_state.upgraded(old, lambda config: f"digest of {sorted(config)}")
    assert upgraded == {**old, "config_digest": "digest of ['guest']"}
    today = {"config_digest": "abc"}
    assert machine_state.upgraded(today, lambda config: pytest.fail("not asked")) is today


def test_the_former_digest_hashed_the_engines_floats_as_given():
    assert machine_state.engine_number_digest({"memory_mb": 384.0}) != machine_state.engine_number_digest(
        {"memory_mb": 384}
    )


def test_the_gateway_component_keeps_its_former_type_as_an_alias():
    (alias,) = former_gateway_aliases().aliases
    assert alias.type_ == FORMER_GATEWAY_TYPE == "openclaw:fleet:UserInstance"


def test_whole_outputs_only_when_asked(monkeypatch):
    monkeypatch.delenv("OPENCLAW_FLEET_WHOLE_OUTPUTS", raising=False)
    assert not whole_outputs()
    monkeypatch.setenv("OPENCLAW_FLEET_WHOLE_OUTPUTS", "1")
    assert whole_outputs()
