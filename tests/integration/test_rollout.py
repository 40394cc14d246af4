"""``fleet rollout`` with a deliberately broken image stops at the canary, on both targets; a good
one then goes out in waves of counts and shares, a chosen canary first, each wave asked by
OpenClaw's own health gate; ``--back USER --restore`` puts a user back (Docker: with their data).

Three users run the real gateway image (Docker target; Fly target through the emulator with real
containers behind its machines, so health checks are real). The image is then broken on purpose
(its entrypoint exits 1) and rolled out with ``--waves 1,50%,100% --bake 1`` and a chosen canary:
the canary's volume is snapshotted,
its gateway fails the health gate, and the rollout stops there, naming the user and how to roll
them back. The other two users are untouched: same image, and a plain ``fleet up`` afterwards
does not move them either; it puts the canary back on its recorded image, healthy again.
"""

import json
import re
import secrets
import subprocess

import pytest

from tests.integration.fleet import LOCAL_BASE_IMAGE, Fleet
from tools.fly_emulator import Emulator
from tools.fly_emulator.runtime import DockerRuntime

pytestmark = pytest.mark.integration

USERS = ["user_2roll0canary1", "user_2roll0second2", "user_2roll0third03"]


def roster() -> dict:
    return {"users": [{"id": uid, "name": uid[-6:]} for uid in USERS]}


@pytest.fixture(params=["docker", "fly"])
def fleet(request, tmp_path_factory):
    emulator = None
    if request.param == "docker":
        # 300 s: under .ci/run's load two of three real gateways took over 150 s to answer /health.
        fleet = Fleet.for_docker(tmp_path_factory.mktemp("rollout"), healthTimeoutSeconds="300")
    else:
        runtime = DockerRuntime(helper_image=LOCAL_BASE_IMAGE)  # snapshots carry the volume's files
        emulator = Emulator(tokens=("fly-" + secrets.token_hex(16),), runtime=runtime).start()
        fleet = Fleet.for_fly(tmp_path_factory.mktemp("rollout"), emulator, healthTimeoutSeconds="150")
    fleet.write_roster(roster())
    yield fleet
    fleet.fleet("destroy", "--yes")
    if emulator:
        emulator.stop()


def images(fleet: Fleet) -> dict[str, str]:
    rows = json.loads(fleet.run("stack", "output", "user_images", "--json"))
    return {uid: row["image"] for uid, row in rows.items()}


def test_a_broken_image_stops_at_the_canary_and_the_others_are_untouched(fleet):
    first = fleet.fleet("up", timeout=1800)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    before = images(fleet)
    assert len(set(before.values())) == 1

    entrypoint = fleet.dir / "image" / "entrypoint.sh"
    entrypoint.write_text(entrypoint.read_text().replace("set -euo pipefail\n", "set -euo pipefail\nexit 1\n", 1))
    waves = ["--waves", "1,50%,100%", "--bake", "1", "--canary", USERS[0]]
    rollout = fleet.fleet("rollout", *waves, timeout=1800)
    said = rollout.stdout + rollout.stderr
    assert rollout.returncode == 1, said[-3000:]
    assert "stopped at wave 1 (1 users)" in said, said[-3000:]
    assert f"{USERS[0]}: volume snapshot" in said
    assert "roll back: `bin/fleet up` runs their gateway on" in said
    assert "2 users not reached stay on their image" in said
    # A failed update records nothing: every user's image is still the one before the rollout.
    assert images(fleet) == before
    if fleet.run("config", "get", "openclaw-fleet:target").strip() == "docker":
        snapshot = re.search(rf"{USERS[0]}: volume snapshot (\S+)", said).group(1)
        assert snapshot.endswith(".tar.gz")

    # A plain up in between does not finish the rollout, and it puts the canary back on its
    # recorded image, healthy again.
    again = fleet.fleet("up", timeout=1800)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert images(fleet) == before
    assert all(row["state"] in ("running", "started") for row in fleet.users().values()), fleet.users()


def container_of(fleet: Fleet, user_id: str) -> str:
    """The Docker container of the user's gateway: theirs on Docker, their machine's on the emulator."""
    instance = fleet.users()[user_id]["instance_id"]
    docker = fleet.run("config", "get", "openclaw-fleet:target").strip() == "docker"
    return instance if docker else f"flyemu-{instance}"


def in_gateway(fleet: Fleet, user_id: str, script: str) -> str:
    """Run ``script`` (sh) in the user's gateway; its output."""
    ran = subprocess.run(
        ["docker", "exec", container_of(fleet, user_id), "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    return ran.stdout.strip()


def test_a_good_image_goes_out_in_waves_after_a_chosen_canary_and_back_restores_the_data(fleet):
    first = fleet.fleet("up", "--quiet", timeout=1800)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    before = images(fleet)
    state_file = "/home/node/.openclaw/rollout-test.txt"
    in_gateway(fleet, USERS[0], f"echo before > {state_file}")  # what the old version wrote

    dockerfile = fleet.dir / "image" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "LABEL openclaw-fleet.test=rollout\n")  # another image
    canary = USERS[2]
    rollout = fleet.fleet(
        "rollout", "--waves", "1,50%,100%", "--bake", "1", "--canary", canary, "--json", "--quiet", timeout=2400
    )
    assert rollout.returncode == 0, rollout.stdout[-3000:] + rollout.stderr[-3000:]
    document = json.loads(rollout.stdout)
    assert [wave["users"] for wave in document["waves"]] == [[canary], [USERS[0]], [USERS[1]]]
    assert all(not wave["problems"] for wave in document["waves"]) and document["pending"] == []
    assert "baking 1 s" in rollout.stderr
    after = images(fleet)
    assert len(set(after.values())) == 1 and set(after.values()).isdisjoint(before.values())

    in_gateway(fleet, USERS[0], f"echo after > {state_file}")  # the new version changed it
    back = fleet.fleet("rollout", "--back", USERS[0], "--restore", "--quiet", timeout=1800)
    assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-3000:]
    assert "volume restored from" in back.stdout + back.stderr
    assert images(fleet)[USERS[0]] == before[USERS[0]]
    assert in_gateway(fleet, USERS[0], f"cat {state_file}") == "before"
