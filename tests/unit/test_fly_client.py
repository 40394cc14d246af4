"""The Fly client: retries on 429/5xx honouring Retry-After, errors that carry what a person needs."""

import threading
import time

import pytest

from components.fly.client import FlyClient, FlyError, whole_numbers
from tests.fly_emulator import Emulator, Faults

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
        assert fly.call("GET", "/apps") == {"total_apps": 0, "apps": []}
        elapsed = time.monotonic() - started
    statuses = [c["status"] for c in emulator.calls]
    assert statuses[-1] == 200 and statuses.count(429) >= 2
    assert elapsed >= 1.5  # it waited as told instead of hammering


def test_retries_5xx_then_succeeds(emulator):
    emulator.set_faults(Faults(rate_5xx=0.5, seed=3))
    with FlyClient(emulator.url, TOKEN) as fly:
        for i in range(10):
            fly.call("POST", "/apps", json={"name": f"retry-app-{i}", "org_slug": "personal"}, idempotent=True)
    assert len(emulator.state.apps) == 10
    assert any(c["status"] >= 500 for c in emulator.calls)


def test_error_names_method_path_status_message_and_request_id_never_the_token(emulator):
    with FlyClient(emulator.url, TOKEN) as fly, pytest.raises(FlyError) as caught:
        fly.call("GET", "/apps/nope")
    error = caught.value
    assert (error.method, error.path, error.status) == ("GET", "/apps/nope", 404)
    assert "app not found" in error.message and error.request_id.startswith("01EMU")
    assert TOKEN not in str(error) and TOKEN not in repr(error.__dict__)


def test_bad_token_is_401_and_not_retried(emulator):
    with FlyClient(emulator.url, "wrong") as fly, pytest.raises(FlyError) as caught:
        fly.call("GET", "/apps")
    assert caught.value.status == 401 and len(emulator.calls) == 1


def test_unreachable_api_is_an_error_with_status_0():
    with FlyClient("http://127.0.0.1:9", TOKEN, max_attempts=2) as fly, pytest.raises(FlyError) as caught:
        fly.call("GET", "/apps")
    assert caught.value.status == 0 and "could not connect" in caught.value.message


def test_whole_numbers_turns_engine_floats_back_into_ints():
    assert whole_numbers({"size_gb": 1.0, "guest": {"cpus": 2.0}, "ports": [443.0], "x": 0.5}) == \
        {"size_gb": 1, "guest": {"cpus": 2}, "ports": [443], "x": 0.5}


def test_find_or_create_looks_again_after_a_lost_answer_and_creates_once():
    from components.fly.client import FlyConnectionLost, find_or_create

    made: list[dict] = []

    def create():
        made.append({"id": "vol_1"})  # Fly made it, but the answer is lost
        raise FlyConnectionLost("POST", "/apps/a/volumes", 0, "connection lost")

    result = find_or_create(lambda: made[0] if made else None, create)
    assert result == {"id": "vol_1"} and len(made) == 1


def test_find_or_create_gives_up_with_the_last_error():
    from components.fly.client import find_or_create

    def create():
        raise FlyError("POST", "/apps/a/machines", 409, "name taken")

    with pytest.raises(FlyError) as caught:
        find_or_create(lambda: None, create, retry_status=frozenset({409}), attempts=2)
    assert caught.value.status == 409
