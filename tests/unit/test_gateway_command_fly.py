"""A gateway command on Fly whose exec answer is lost: sent again when it is safe to repeat
(``models set``), never for a ``once`` command (a pairing code is used up); against the emulator."""

from types import SimpleNamespace

import pytest

from openclaw_fleet.errors import FlyAnswerLost
from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.providers.gateway_command import GatewayCommandArgs, GatewayCommandProvider
from tools.fly_emulator import Emulator, Faults, Timing

TOKEN = "fly-unit-token-0123456789abcdef"
CONFIG = {"image": "r/i@sha256:1", "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 2048}}


@pytest.fixture
def started_machine():
    """The emulator, and the id of a started machine in app ``cmd-app``."""
    emulator = Emulator(tokens=(TOKEN,), timing=Timing(start_s=0.1, app_propagation_s=0)).start()
    with FlyClient(emulator.url, TOKEN) as fly:
        fly.create_app("cmd-app", "personal")
        machine = fly.launch_machine("cmd-app", {"name": "m", "region": "sjc", "config": CONFIG})
        assert fly.wait_machine("cmd-app", machine["id"], "started", timeout_s=30)
    yield emulator, machine["id"]
    emulator.stop()


def drop_the_next_answer(emulator, monkeypatch):
    """Make the emulator drop the connection after answering the next call (once)."""
    dropped: list[bool] = []

    def roll(rate: float) -> bool:
        if rate == 1.0 and not dropped:
            dropped.append(True)
            return True
        return False

    emulator.set_faults(Faults(rate_drop_after=1.0))
    monkeypatch.setattr(emulator, "roll", roll)


def provider_for(emulator) -> GatewayCommandProvider:
    provider = GatewayCommandProvider()
    provider.configure(SimpleNamespace(config={"flyApiUrl": emulator.url, "flyApiToken": TOKEN}))
    return provider


def args(machine_id: str, command: list[str], once: bool) -> GatewayCommandArgs:
    return GatewayCommandArgs(
        target="fly",
        app="cmd-app",
        machine_id=machine_id,
        command=command,
        user_id="user_1",
        state="running",
        once=once,
    )


def test_a_command_safe_to_repeat_is_sent_again_after_a_lost_answer(started_machine, monkeypatch):
    emulator, machine_id = started_machine
    drop_the_next_answer(emulator, monkeypatch)
    provider_for(emulator)._run(args(machine_id, ["openclaw", "models", "set", "openai/gpt-5"], once=False))
    execs = emulator.state.apps["cmd-app"]["machines"][machine_id].execs
    assert [command[-4:] for command in execs] == [["openclaw", "models", "set", "openai/gpt-5"]] * 2


def test_a_once_command_is_not_sent_again_after_a_lost_answer(started_machine, monkeypatch):
    emulator, machine_id = started_machine
    drop_the_next_answer(emulator, monkeypatch)
    with pytest.raises(FlyAnswerLost) as caught:
        provider_for(emulator)._run(args(machine_id, ["openclaw", "pairing", "approve", "telegram", "AB12"], once=True))
    assert "connection lost" in str(caught.value)
    assert len(emulator.state.apps["cmd-app"]["machines"][machine_id].execs) == 1
