"""The program's final wait for its outputs: linear in their number, and failing as early as the SDK's own."""

import asyncio

import pulumi
import pytest
from pulumi.runtime import stack as sdk_stack
from pulumi.runtime.settings import SETTINGS

from openclaw_fleet.sdk_workarounds import outputs_awaited_together


@pytest.fixture
def patched_wait(monkeypatch):
    """The SDK's ``wait_for_rpcs`` as the program runs it, with no output left over from other
    tests, nor left for them."""
    monkeypatch.setattr(sdk_stack, "wait_for_rpcs", sdk_stack.wait_for_rpcs)
    with SETTINGS.lock:
        SETTINGS.outputs.clear()
    outputs_awaited_together()
    yield sdk_stack.wait_for_rpcs
    with SETTINGS.lock:
        SETTINGS.outputs.clear()


def pending_output(loop: asyncio.AbstractEventLoop) -> tuple[pulumi.Output, asyncio.Future]:
    """An Output, as a resource's property is, and the future the engine's answer would resolve."""
    value = loop.create_future()
    known = loop.create_future()
    known.set_result(True)
    return pulumi.Output(set(), value, known), value


def test_waiting_for_many_outputs_hangs_one_callback_per_output(patched_wait, monkeypatch):
    """2,000 outputs resolved one after another, as registrations come back; one of them failed as a
    registration the engine reported failed (continue-on-error), which the SDK ignores. The SDK's own
    loop would hand asyncio.wait about 2,000 × 2,000 / 2 futures; the program's wait hands it each
    about once."""
    handed = []
    real_wait = asyncio.wait

    async def counting_wait(futures, **kwargs):
        handed.append(len(futures))
        return await real_wait(futures, **kwargs)

    monkeypatch.setattr(asyncio, "wait", counting_wait)

    async def program() -> list:
        loop = asyncio.get_running_loop()
        outputs = [pending_output(loop) for _ in range(2000)]
        outputs[0][1].set_exception(sdk_stack.ResourceRegistrationFailed("registration failed"))

        async def engine_answers():
            for _, value in outputs[1:]:
                value.set_result("ok")
                await asyncio.sleep(0)

        answers = asyncio.ensure_future(engine_answers())
        await patched_wait()
        await answers
        return [output for output, _ in outputs[1:]]

    resolved = asyncio.run(program())
    assert all(output._data.done() and not output._data.exception() for output in resolved)
    assert sum(handed) < 3 * 2000, f"asyncio.wait was handed {sum(handed)} futures in {len(handed)} calls"


def test_a_failed_output_is_raised_without_waiting_for_the_rest(patched_wait):
    """As in the SDK's own loop: an output that fails ends the wait with its error, though another
    output never resolves (the engine is gone)."""

    async def program():
        loop = asyncio.get_running_loop()
        _never, _ = pending_output(loop)
        _failed, value = pending_output(loop)
        loop.call_later(0.05, value.set_exception, RuntimeError("the engine refused the resource"))
        await asyncio.wait_for(patched_wait(), timeout=60)

    with pytest.raises(RuntimeError, match="the engine refused the resource"):
        asyncio.run(program())
