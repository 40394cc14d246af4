"""``fly:Machine`` against the emulator: it waits until its machine is ready, reports one that is
not as made but not come up (``ResourceInitFailed``, with the machine's id), and a create that
finds the machine an earlier run made brings it to the declared config instead of launching
another, while a machine it launches itself is not updated again."""

from types import SimpleNamespace

import httpx
import pytest

from openclaw_fleet.errors import ResourceInitFailed
from openclaw_fleet.gateway.fly import machine_config
from openclaw_fleet.providers.fly.machine import MachineArgs, MachineProvider, config_digest
from tests.unit.users import user
from tools.fly_emulator import Emulator, Timing
from tools.fly_emulator.runtime import ChecksOnlyRuntime

TOKEN = "fly-unit-token-0123456789abcdef"
APP = "automna-u-machine1"


@pytest.fixture
def runtime():
    return ChecksOnlyRuntime()


@pytest.fixture
def emulator(runtime):
    emulator = Emulator(tokens=(TOKEN,), timing=Timing(start_s=0.2, app_propagation_s=0), runtime=runtime).start()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    httpx.post(f"{emulator.url}/v1/apps", json={"app_name": APP, "org_slug": "personal"}, headers=headers)
    yield emulator
    emulator.stop()


@pytest.fixture
def provider(emulator) -> MachineProvider:
    provider = MachineProvider()
    provider.configure(SimpleNamespace(config={"flyApiUrl": emulator.url, "flyApiToken": TOKEN}))
    return provider


def args(image: str = "reg/gateway@sha256:aa", **overrides) -> MachineArgs:
    config = machine_config(user(), image, "vol_1", "openclaw-fleet/test", f"https://{APP}.fly.dev")
    config.pop("mounts")  # no volume in this app
    fields = dict(app=APP, name=APP, region="sjc", config=config, min_secrets_version=0, user_id="user_1")
    return MachineArgs(**{**fields, **overrides})


def live(emulator) -> list:
    return [machine for machine in emulator.state.apps[APP]["machines"].values() if machine.state != "destroyed"]


def test_create_returns_a_started_machine_with_passing_checks_and_updates_nothing_it_launched(emulator, provider):
    made = provider.create(args().props())
    assert made.outs["status"] == "started"
    assert [machine.id for machine in live(emulator)] == [made.id]
    writes = [(call["method"], call["path"]) for call in emulator.calls if call["method"] != "GET"]
    assert writes == [("POST", "/v1/apps"), ("POST", f"/v1/apps/{APP}/machines")], writes


def test_create_stores_only_the_digest_of_the_config_and_a_refresh_what_it_found(emulator, provider):
    declared = args().props()
    made = provider.create(declared)
    assert made.outs["config_digest"] == config_digest(declared["config"])
    assert not {"config", "config_keys", "mounts"} & set(made.outs)  # the inputs hold them
    # What the provider server hands read and diff: the stored outputs, and the inputs.
    found = provider.read(made.id, {**declared, **made.outs})
    assert found.outs["config_keys"] == sorted(declared["config"])
    assert found.outs["config_digest"] == made.outs["config_digest"]
    assert not provider.diff(made.id, {**declared, **found.outs}, declared).changes


def test_a_machine_that_does_not_pass_its_checks_is_reported_as_made_but_not_ready(emulator, runtime, provider):
    runtime.failing.add(APP)
    with pytest.raises(ResourceInitFailed) as failed:
        provider.create(args(health_timeout_s=2).props())
    [machine] = live(emulator)
    assert failed.value.resource_id == machine.id
    assert failed.value.outs["status"] == "unhealthy" and failed.value.outs["instance_id"] == machine.instance_id
    assert str(failed.value).startswith(f"machine {machine.id} of user user_1 did not become started")
    assert "checks health=critical" in str(failed.value)


def test_create_brings_a_machine_an_earlier_run_made_to_the_declared_config(emulator, runtime, provider):
    runtime.failing.add(APP)
    with pytest.raises(ResourceInitFailed):
        provider.create(args("reg/gateway@sha256:broken", health_timeout_s=1).props())
    runtime.failing.clear()
    made = provider.create(args("reg/gateway@sha256:fixed").props())  # the SDK's server recorded nothing
    [machine] = live(emulator)
    assert made.id == machine.id and made.outs["status"] == "started"
    assert machine.config["image"] == "reg/gateway@sha256:fixed"
