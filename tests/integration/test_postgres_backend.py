"""A team's shared state: Pulumi's PostgreSQL backend (`postgres://`), with a server of the test's
own. Two shard jobs apply their shards at once through it; a plan runs while a deploy holds a
stack's lock and neither is hurt (a plan takes no lock); a second deploy of the same shard is
refused naming the lock, and the state stays whole; a killed deploy is recovered through it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import pytest

from tests.integration.fleet import Fleet, fleet_command
from tests.integration.postgres import Postgres
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

USERS = [f"user_2postgres0u{index:02d}" for index in range(6)]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    server = Postgres()
    # Machines take 30 s to start: a deploy holds its lock long enough to be met.
    emulator = Emulator(tokens=("fly-test-pg",), timing=Timing(start_s=30)).start()
    backend = {"PULUMI_BACKEND_URL": server.url("fleet_state")}
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("postgres"), emulator, env=backend, shards="2")
    fleet.server = server
    yield fleet
    fleet.fleet("destroy", "--yes", "--quiet")
    emulator.stop()
    server.stop()


def start(fleet: Fleet, *args: str, new_session: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [*fleet_command(fleet.stack, *args), "--quiet"],
        cwd=fleet.dir,
        env=fleet.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=new_session,
    )


def test_two_shard_jobs_apply_at_once_through_the_shared_backend(fleet):
    fleet.write_roster({"users": [{"id": uid, "name": uid[-3:]} for uid in USERS]})
    jobs = [start(fleet, "up", "--shard", str(shard), "--of", "2") for shard in (1, 2)]
    outputs = [job.communicate(timeout=900)[0] for job in jobs]
    assert [job.returncode for job in jobs] == [0, 0], outputs
    assert {row["user_id"] for row in json.loads(fleet.fleet("machines").stdout)} == set(USERS)
    assert fleet.fleet("preview", "--quiet").returncode == 0


def test_a_plan_during_a_deploy_and_a_second_deploy_of_the_same_shard(fleet):
    # New users: each machine's create waits its start, so the deploy is still creating when met.
    newcomers = [f"user_2postgres0n{index:02d}" for index in range(4)]
    fleet.write_roster({"users": [{"id": uid, "name": uid[-3:]} for uid in USERS + newcomers]})
    deploy = start(fleet, "up")
    deadline = time.monotonic() + 300
    while not fleet.server.keys("fleet_state", "%/.pulumi/locks/%") and deploy.poll() is None:
        assert time.monotonic() < deadline, "the deploy took no lock within 300 s"
        time.sleep(0.2)
    assert deploy.poll() is None, "the deploy ended before it could be met"
    plan, second = start(fleet, "preview"), start(fleet, "up")  # while the deploy creates
    outputs = {name: job.communicate(timeout=900)[0] for name, job in (("plan", plan), ("second", second))}
    output = deploy.communicate(timeout=900)[0]
    assert deploy.returncode == 0, output
    assert plan.returncode == 0, outputs["plan"]  # a plan takes no lock: it reads, whatever runs
    assert second.returncode == 1, outputs["second"]
    assert "locked" in outputs["second"]  # refused, naming the lock; nothing half-done
    assert fleet.fleet("preview", "--quiet").returncode == 0
    assert fleet.server.keys("fleet_state", "%/.pulumi/locks/%") == []
    for stack in json.loads(fleet.run("stack", "ls", "--json", record=False)):
        exported = json.loads(fleet.run("stack", "export", record=False, stack=stack["name"]))
        assert exported["deployment"].get("pending_operations") in (None, [])


def test_a_killed_deploy_is_recovered_through_the_shared_backend(fleet):
    """A deploy killed (SIGKILL to its whole process group, as a cancelled CI job) leaves its lock
    and pending operations in the shared backend; the next ``fleet up`` on this host clears them,
    names what it did, and converges."""
    late = [f"user_2postgres0k{index:02d}" for index in range(3)]
    everyone = USERS + [f"user_2postgres0n{index:02d}" for index in range(4)] + late
    fleet.write_roster({"users": [{"id": uid, "name": uid[-3:]} for uid in everyone]})
    deploy = start(fleet, "up", new_session=True)
    deadline = time.monotonic() + 300
    while not fleet.server.keys("fleet_state", "%/.pulumi/locks/%") and deploy.poll() is None:
        assert time.monotonic() < deadline, "the deploy took no lock within 300 s"
        time.sleep(0.2)
    time.sleep(3)  # the machines' creates have begun: pending operations in the checkpoint
    assert deploy.poll() is None, "the deploy ended before it could be killed"
    os.killpg(deploy.pid, signal.SIGKILL)
    deploy.communicate(timeout=60)
    assert fleet.server.keys("fleet_state", "%/.pulumi/locks/%"), "the killed deploy left no lock"

    again = fleet.fleet("up", "--quiet")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "cleared the lock of a run that no longer runs" in again.stdout
    assert {row["user_id"] for row in json.loads(fleet.fleet("machines").stdout)} == set(everyone)
    assert fleet.server.keys("fleet_state", "%/.pulumi/locks/%") == []
    assert fleet.fleet("preview", "--quiet").returncode == 0
