"""The Fly client: retries on 429/5xx honouring Retry-After, errors that carry what a person needs."""

import threading
import time

import pytest

from openclaw_fleet.errors import FlyAnswerLost, FlyApiError, FlyUnreachable
from openclaw_fleet.providers.fly import client as fly_client
from openclaw_fleet.providers.fly.client import FlyClient, whole_numbers
from tools.fly_emulator import Emulator, Faults

TOKEN = "fly-unit-token-0123456789abcdef"


@pytest.fixture
def emulator():
    emulator = Emulator(tokens=(TOKEN,)).start()
    yield emulator
    emulator.stop()


def test_retries_429_after_the_servers_retry_after(emulator):
    emulator.set_faults(Faults(rate_429=1.0, retry_after_s=1))
    with FlyClient(emulator.url, TOKEN) as fly:
        started = time.monotonic()
        threading.Timer(1.5, lambda: emulator.set_faults(Faults())).start()
        fly.create_app("patient-app", "personal")
        elapsed = time.monotonic() - started
    statuses = [c["status"] for c in emulator.calls]
    assert statuses[-1] == 201 and statuses.count(429) >= 2
    assert elapsed >= 1.5  # it waited as told instead of hammering


def test_retries_5xx_then_succeeds(emulator):
    emulator.set_faults(Faults(rate_5xx=0.5, seed=3))
    with FlyClient(emulator.url, TOKEN) as fly:
        for i in range(10):
            fly.create_app(f"retry-app-{i}", "personal")
    assert len(emulator.state.apps) == 10
    assert any(c["status"] >= 500 for c in emulator.calls)


def test_error_names_method_path_status_message_and_request_id_never_the_token(emulator):
    with FlyClient(emulator.url, TOKEN) as fly, pytest.raises(FlyApiError) as caught:
        fly.list_volume_snapshots("nope", "vol_1")
    error = caught.value
    assert (error.method, error.path, error.status) == ("GET", "/apps/nope/volumes/vol_1/snapshots", 404)
    assert "app not found" in error.message and error.request_id.startswith("01EMU")
    assert TOKEN not in str(error) and TOKEN not in repr(error.__dict__)


def test_bad_token_is_401_and_not_retried(emulator):
    with FlyClient(emulator.url, "wrong") as fly, pytest.raises(FlyApiError) as caught:
        fly.get_app("any")
    assert caught.value.status == 401 and len(emulator.calls) == 1


def test_unreachable_api_is_an_error_without_an_invented_status(monkeypatch):
    monkeypatch.setattr(fly_client, "MAX_ATTEMPTS", 2)
    with FlyClient("http://127.0.0.1:9", TOKEN) as fly, pytest.raises(FlyUnreachable) as caught:
        fly.get_app("any")
    assert "could not connect" in caught.value.reason and not hasattr(caught.value, "status")


def test_whole_numbers_turns_engine_floats_back_into_ints():
    assert whole_numbers({"size_gb": 1.0, "guest": {"cpus": 2.0}, "ports": [443.0], "x": 0.5}) == {
        "size_gb": 1,
        "guest": {"cpus": 2},
        "ports": [443],
        "x": 0.5,
    }


def test_find_or_create_looks_again_after_a_lost_answer_and_creates_once():
    made: list[dict] = []

    def create():
        made.append({"id": "vol_1"})  # Fly made it, but the answer is lost
        raise FlyAnswerLost("POST", "/apps/a/volumes", "connection lost")

    with FlyClient("http://127.0.0.1:9", TOKEN) as fly:
        result = fly.find_or_create(lambda: made[0] if made else None, create)
    assert result == {"id": "vol_1"} and len(made) == 1


def test_find_or_create_gives_up_with_the_last_error(monkeypatch):
    monkeypatch.setattr(fly_client, "CONFLICT_WAIT_S", 1.0)
    tries: list[int] = []

    def create():
        tries.append(1)
        raise FlyApiError("POST", "/apps/a/machines", 409, "name taken")

    with FlyClient("http://127.0.0.1:9", TOKEN) as fly, pytest.raises(FlyApiError) as caught:
        fly.find_or_create(lambda: None, create, wait_out=frozenset({409}))
    assert caught.value.status == 409 and len(tries) >= 2


def test_an_error_status_not_waited_out_is_raised_at_once():
    tries: list[int] = []

    def create():
        tries.append(1)
        raise FlyApiError("POST", "/apps/a/machines", 400, "invalid config")

    with FlyClient("http://127.0.0.1:9", TOKEN) as fly, pytest.raises(FlyApiError):
        fly.find_or_create(lambda: None, create, wait_out=frozenset({409}))
    assert len(tries) == 1


def test_volume_snapshot_retention_is_set_in_place(emulator):
    with FlyClient(emulator.url, TOKEN) as fly:
        fly.create_app("retention-app", "personal")
        request = {"name": "openclaw_data", "region": "sjc", "size_gb": 1}
        # A new app's volumes can answer 404 for a moment (live API; the emulator does the same).
        volume = fly.find_or_create(
            lambda: None, lambda: fly.create_volume("retention-app", request), wait_out=frozenset({404})
        )
        assert volume["snapshot_retention"] == 5  # Fly's default
        updated = fly.update_volume("retention-app", volume["id"], {"snapshot_retention": 14})
    assert updated["snapshot_retention"] == 14 and updated["id"] == volume["id"]
