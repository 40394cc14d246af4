"""Pacing to Fly's documented Machines API limits: per action and machine, 1/s (burst 3); Get
Machine 5/s (burst 10); calls on other machines, or naming no app, never wait."""

import pytest

from openclaw_fleet.providers.fly.pacing import Pacer


@pytest.fixture
def paced():
    clock, slept = [0.0], []

    def sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        clock[0] += seconds

    return Pacer(clock=lambda: clock[0], sleep=sleep), slept


def test_a_burst_on_one_machine_waits_one_second_per_call_past_three(paced):
    pacer, slept = paced
    for _ in range(5):
        pacer.wait("POST", "/apps/a/machines/m1/start")
    assert slept == [1.0, 1.0]
    assert pacer.waited_s == pytest.approx(2.0)


def test_other_machines_other_actions_and_app_creation_do_not_wait(paced):
    pacer, slept = paced
    for index in range(50):
        pacer.wait("POST", f"/apps/a{index}/machines/m/start")
        pacer.wait("POST", f"/apps/a{index}/machines/m/stop")
        pacer.wait("POST", "/apps")
    assert slept == []


def test_get_machine_has_its_own_faster_limit(paced):
    pacer, slept = paced
    for _ in range(12):
        pacer.wait("GET", "/apps/a/machines/m1")
    assert slept == [0.2, 0.2]
