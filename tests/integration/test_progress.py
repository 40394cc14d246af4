"""A long `fleet up` is never silent: with machines that take 12 s to start on the emulator, a
progress line comes at least every 5 s (4 s apart, plus slack for a loaded machine), with counts
that grow while the stacks still run; `--quiet` prints none."""

from __future__ import annotations

import itertools
import re
import secrets
import subprocess
import time

import pytest

from tests.integration.fleet import Fleet, fleet_command
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

USERS = [f"user_2progress000{index}" for index in range(4)]


@pytest.fixture(scope="module")
def slow_fleet(tmp_path_factory):
    emulator = Emulator(tokens=("fly-test-" + secrets.token_hex(16),), timing=Timing(start_s=12)).start()
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("progress"), emulator, shards="2")
    yield fleet
    fleet.fleet("destroy", "--yes", "--quiet")
    emulator.stop()


def timed_lines(fleet: Fleet, *args: str) -> tuple[int, list[tuple[float, str]]]:
    """Run `fleet` and return its exit status and every stderr line with the second it came."""
    started = time.monotonic()
    process = subprocess.Popen(
        fleet_command(fleet.stack, *args),
        cwd=fleet.dir,
        env=fleet.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = [(time.monotonic() - started, line.rstrip("\n")) for line in process.stderr]
    return process.wait(timeout=900), lines


def test_up_prints_progress_at_least_every_five_seconds(slow_fleet):
    slow_fleet.write_roster({"users": [{"id": uid, "name": uid[-5:]} for uid in USERS]})
    status, lines = timed_lines(slow_fleet, "up")
    assert status == 0, "\n".join(line for _, line in lines[-30:])
    progress = [(at, line) for at, line in lines if line.startswith("up: ")]
    assert len(progress) >= 3, lines
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(progress)]
    assert max(gaps) <= 5.0 + 1.5, gaps  # 4 s apart; slack for a loaded machine
    # The engine's events are read while its CLI runs (not once it has ended): while no stack has
    # finished (the machines take 12 s to start), the lines already count steps in progress and
    # then resources done. (On a loaded machine the first line, at 4 s, may precede the first create.)
    running = [line for _, line in progress if "stacks 0/2 finished" in line]
    assert running and "stacks 0/2 finished" in progress[0][1], progress[:3]
    assert any(re.search(r"; [1-9]\d* in progress", line) for line in running), running
    assert any(re.search(r"create [1-9]", line) for line in running), running


def test_quiet_prints_no_progress(slow_fleet):
    slow_fleet.write_roster({"users": [{"id": uid, "name": uid[-5:], "model": "openai/gpt-5.1"} for uid in USERS]})
    status, lines = timed_lines(slow_fleet, "up", "--quiet")
    assert status == 0
    assert not [line for _, line in lines if line.startswith("up: ")]
