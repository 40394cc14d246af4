"""Fixtures the integration tests share."""

import secrets

import pytest

from tools.fly_emulator import Emulator, Timing


@pytest.fixture(scope="module")
def emulator():
    """A Fly emulator of this test module's own, with one token and machines that start in 0.5 s."""
    emulator = Emulator(tokens=("fly-test-" + secrets.token_hex(16),), timing=Timing(start_s=0.5)).start()
    yield emulator
    emulator.stop()
