"""The day-2 workflows run by ``act`` against the Fly emulator, on the project of ``test_act.py``.

``fleet-drift.yml``: a machine stopped behind the fleet's back opens one issue on a stand-in of
GitHub's Issues API naming the user and `bin/fleet up --refresh`; once repaired, the next run
closes it. ``fleet-rollout.yml``: after an image change its ``canary`` job moves the chosen canary
alone; the ``rest`` job, which GitHub holds behind its environment's approval (act has no
approvals: the stand-in is running it only after the canary's result is checked), moves everyone else.
"""

from __future__ import annotations

import json

import pytest

from openclaw_fleet.providers.fly.client import FlyClient
from openclaw_fleet.shards import shard_stacks
from tests.github_issues import serving
from tests.integration.test_act import SHARDS, USERS, git, project, run_act  # noqa: F401 (the module's fixture)

pytestmark = pytest.mark.integration

MAIN = {"ref": "refs/heads/main", "repository": {"full_name": "team/fleet", "default_branch": "main"}}


@pytest.fixture(scope="module")
def fleet_up(project):  # noqa: F811
    fleet, emulator, work = project
    result = fleet.fleet("up", "--quiet")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return fleet, emulator, work


def test_the_drift_workflow_keeps_one_issue_and_closes_it_once_repaired(fleet_up):
    fleet, emulator, work = fleet_up
    row = next(row for row in json.loads(fleet.fleet("machines").stdout) if row["user_id"] == USERS[4])
    with FlyClient(emulator.url, fleet.tokens_["write"]) as fly:
        fly.stop_machine(row["app_name"], row["id"])
        assert fly.wait_machine(row["app_name"], row["id"], "stopped", timeout_s=60)
    with serving() as (url, issues):
        found = run_act(fleet, work, "workflow_dispatch", "fleet-drift.yml", MAIN, GITHUB_API_URL=url)
        assert found.returncode == 0, found.stdout[-5000:] + found.stderr[-2000:]
        (issue,) = issues.issues
        assert issue["state"] == "open" and f"`{USERS[4]}`" in issue["body"]
        assert set(issues.tokens) == {"Bearer ghs-standin-" + "0" * 12}  # the workflow's own token
        assert "bin/fleet up --refresh" in issue["body"] and "state stopped" in issue["body"]

        repaired = fleet.fleet("up", "--refresh", "--quiet")
        assert repaired.returncode == 0, repaired.stdout[-3000:] + repaired.stderr[-3000:]
        again = run_act(fleet, work, "workflow_dispatch", "fleet-drift.yml", MAIN, GITHUB_API_URL=url)
        assert again.returncode == 0, again.stdout[-5000:] + again.stderr[-2000:]
        assert [issue["state"] for issue in issues.issues] == ["closed"]
    assert fleet.tokens_["readonly"] not in found.stdout + found.stderr


def test_the_rollout_workflow_moves_the_canary_then_after_approval_the_rest(fleet_up):
    fleet, _, work = fleet_up
    # The emulator here runs no gateway to ask: the waves pass on the machines' checks alone.
    fleet.run("config", "set", "openclaw-fleet:rolloutHealthGate", "checks")
    dockerfile = fleet.dir / "image" / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "LABEL openclaw-fleet.test=act-rollout\n")
    git(fleet.dir, "add", "-A")
    git(fleet.dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "a new gateway image")
    before = images(fleet)
    canary = USERS[6]
    variables = {"FLEET_CANARIES": canary, "FLEET_ROLLOUT_BAKE": "1", "FLEET_ROLLOUT_WAVES": "50%,100%"}

    first = run_act(fleet, work, "workflow_dispatch", "fleet-rollout.yml", MAIN, job="canary", variables=variables)
    assert first.returncode == 0, first.stdout[-6000:] + first.stderr[-2000:]
    moved = {uid for uid, image in images(fleet).items() if image != before[uid]}
    assert moved == {canary}

    rest = run_act(fleet, work, "workflow_dispatch", "fleet-rollout.yml", MAIN, job="rest", variables=variables)
    assert rest.returncode == 0, rest.stdout[-6000:] + rest.stderr[-2000:]
    after = images(fleet)
    assert len(set(after.values())) == 1 and set(after.values()).isdisjoint(before.values())


def images(fleet) -> dict[str, str]:
    """User id → the image the stack records for them, over every shard."""
    found = {}
    for name in shard_stacks(fleet.stack, SHARDS):
        rows = json.loads(fleet.run("stack", "output", "user_images", "--json", stack=name, record=False))
        found |= {uid: row["image"] for uid, row in rows.items()}
    return found
