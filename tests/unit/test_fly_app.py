"""``fly:App`` with its addresses, against the emulator: made once each although an answer is
lost, taken over (not allocated again) from a stack whose addresses were resources of their own,
and made again in place after a refresh found one released."""

from types import SimpleNamespace

import pytest

from openclaw_fleet.providers.fly.app import AppArgs, AppProvider
from tools.fly_emulator import Emulator, Faults, Timing

TOKEN = "fly-unit-token-0123456789abcdef"
SEED = 1  # with it, the answer of an address allocation is lost (checked in the test)


@pytest.fixture
def emulator():
    emulator = Emulator(tokens=(TOKEN,), timing=Timing(app_propagation_s=0)).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def provider(emulator) -> AppProvider:
    provider = AppProvider()
    provider.configure(SimpleNamespace(config={"flyApiUrl": emulator.url, "flyApiToken": TOKEN}))
    return provider


def kinds(emulator, app: str) -> list[str]:
    return sorted("v6" if ":" in ip["ip"] else "shared_v4" for ip in emulator.state.apps[app]["ips"])


def ip_posts(emulator, since: int = 0) -> list[str]:
    calls = emulator.calls[since:]
    return [c["path"] for c in calls if c["method"] == "POST" and c["path"].endswith("/ip_assignments")]


def test_create_gives_the_app_one_shared_ipv4_and_one_ipv6_even_when_answers_are_lost(emulator, provider):
    emulator.set_faults(Faults(rate_drop_after=0.5, seed=SEED))  # half the answers lost after the work is done
    made = provider.create(AppArgs(name="addr-app", org_slug="personal").props())
    emulator.set_faults(Faults())
    lost = [c for c in emulator.calls if c["status"] == 0 and c["method"] == "POST"]
    assert {c["path"] for c in lost} >= {"/v1/apps/addr-app/ip_assignments"}, "the seed no longer loses an IP answer"
    assert kinds(emulator, "addr-app") == ["shared_v4", "v6"]
    listed = {ip["ip"] for ip in emulator.state.apps["addr-app"]["ips"]}
    assert {made.outs["shared_ipv4"], made.outs["ipv6"]} == listed


def test_state_without_addresses_updates_in_place_and_takes_over_those_assigned(emulator, provider):
    made = provider.create(AppArgs(name="old-app", org_slug="personal").props())
    former = {key: value for key, value in made.outs.items() if key not in ("shared_ipv4", "ipv6")}
    inputs = AppArgs(name="old-app", org_slug="personal").props()

    diff = provider.diff("old-app", former, inputs)
    assert diff.changes and diff.replaces == []
    mark = len(emulator.calls)
    updated = provider.update("old-app", former, inputs).outs
    assert ip_posts(emulator, mark) == []
    assert (updated["shared_ipv4"], updated["ipv6"]) == (made.outs["shared_ipv4"], made.outs["ipv6"])
    assert not provider.diff("old-app", updated, inputs).changes


def test_an_address_released_by_hand_is_found_missing_by_refresh_and_assigned_again(emulator, provider):
    made = provider.create(AppArgs(name="drift-app", org_slug="personal").props()).outs
    app = emulator.state.apps["drift-app"]
    app["ips"] = [ip for ip in app["ips"] if ip["ip"] != made["ipv6"]]

    refreshed = provider.read("drift-app", made).outs
    assert refreshed["ipv6"] is None and refreshed["shared_ipv4"] == made["shared_ipv4"]
    inputs = AppArgs(name="drift-app", org_slug="personal").props()
    assert provider.diff("drift-app", refreshed, inputs).changes
    mark = len(emulator.calls)
    updated = provider.update("drift-app", refreshed, inputs).outs
    assert ip_posts(emulator, mark) == ["/v1/apps/drift-app/ip_assignments"]
    assert kinds(emulator, "drift-app") == ["shared_v4", "v6"] and updated["ipv6"] not in (None, made["ipv6"])
