"""The plan a reviewer reads, made by the CI templates' own steps.

The example roster is brought up on the Fly target (the emulator); a change to it — a user added,
one removed, one stopped, one with a new model and a new provider key — is then planned by running
the ``Plan`` step of ``.github/workflows/fleet-plan.yml`` as written (it writes the plan as JSON),
and rendered by ``fleet render`` as the ``publish`` job runs it (the publishing itself runs under
act in ``test_act.py``), and the comment body it would post is checked: grouped counts, the fields
that change, provider keys by name and source and never by value, costs from the price file, and
the same in ``--format json``. The GitLab template must run the same command.
"""

import json
import secrets
import subprocess

import pytest
import yaml

from openclaw_fleet.cli.comment import MARKER
from openclaw_fleet.cost import FlyPrices
from tests.integration.fleet import ROOT, Fleet

pytestmark = pytest.mark.integration

EXAMPLE = yaml.safe_load((ROOT / "users" / "roster.yaml").read_text())
ADA, GRACE, ALAN = (user["id"] for user in EXAMPLE["users"])
NEW = "user_2linus0tor42"


def run_step(fleet: Fleet, env: dict, workflow: str, job: str, name: str) -> subprocess.CompletedProcess:
    """The ``run:`` script of step ``name`` of ``job`` in ``workflow``, as written, in the project."""
    document = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())
    script = next(step["run"] for step in document["jobs"][job]["steps"] if step.get("name") == name)
    return subprocess.run(
        ["bash", "-e", "-c", script], cwd=fleet.dir, env=env, capture_output=True, text=True, timeout=1200
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, emulator):
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("review"), emulator)
    # The workflow step calls bin/fleet of the checkout.
    for name in ("bin", "tools", "requirements.txt", "requirements.lock"):
        (fleet.dir / name).symlink_to(ROOT / name)
    fleet.write_roster(EXAMPLE)
    result = fleet.fleet("up")
    assert result.returncode == 0, result.stdout + result.stderr
    yield fleet
    fleet.fleet("destroy", "--yes")


def test_the_plan_step_writes_the_comment_a_reviewer_reads(fleet, tmp_path):
    key_value = "sk-test-" + secrets.token_hex(16)
    changed = yaml.safe_load(yaml.safe_dump(EXAMPLE))
    changed["users"] = [user for user in changed["users"] if user["id"] != ADA]
    for user in changed["users"]:
        if user["id"] == GRACE:
            user.update(model="anthropic/claude-opus-4-1", providerKeys={"OPENAI_API_KEY": "review-openai"})
        if user["id"] == ALAN:
            user["state"] = "stopped"
    changed["users"].append({"id": NEW, "name": "Linus", "size": "performance-1x", "region": "ams"})
    fleet.write_roster(changed)
    (fleet.dir / "plan").mkdir(exist_ok=True)
    fleet.env["OPENCLAW_KEY_REVIEW_TEST"] = key_value
    fleet.declare_source("review-openai", "env", "OPENCLAW_KEY_REVIEW_TEST", [GRACE])
    env = {**fleet.env, "OPENCLAW_FLEET_STACK": fleet.stack}
    result = run_step(fleet, env, "fleet-plan.yml", "plan", "Plan")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sha, run_url = "0123456789abcdef0123456789abcdef01234567", "https://github.com/o/r/actions/runs/42"
    venv_first = f"{(ROOT / '.venv' / 'bin').resolve()}:{env['PATH']}"
    render = {**env, "PATH": venv_first, "CONCLUSION": "success", "HEAD_SHA": sha, "RUN_URL": run_url}
    command = ["python", "-m", "openclaw_fleet.cli", "render", "--stack", fleet.stack, "--plan", "fleet-plan.json"]
    command += ["--conclusion", "success", "--output", "comment.md", "--commit", sha, "--run-url", run_url]
    rendered = subprocess.run(command, cwd=fleet.dir, env=render, capture_output=True, text=True, timeout=300)
    assert rendered.returncode == 0, rendered.stdout[-3000:] + rendered.stderr[-3000:]
    body = (fleet.dir / "comment.md").read_text()
    fleet.transcript.append(body)
    assert body.startswith(MARKER + "\n")
    assert "✅ ready" in body.splitlines()[1] and f"commit `{sha[:12]}` · [CI run]({run_url})" in body
    assert "**1** added · **1** changed · **0** replaced · **0** started · **1** stopped · **1** removed" in body
    grace = next(line for line in body.splitlines() if GRACE in line)
    assert "model openai/gpt-5.1 → anthropic/claude-opus-4-1" in grace
    assert "provider key OPENAI_API_KEY added from review-openai (env OPENCLAW_KEY_REVIEW_TEST)" in grace
    assert key_value not in body and key_value not in result.stdout + result.stderr

    prices = FlyPrices.load()
    running_alan = prices.monthly("shared-cpu-2x", 4096, True, 1)
    stopped_alan = prices.monthly("shared-cpu-2x", 4096, False, 1)
    alan = next(line for line in body.splitlines() if ALAN in line)
    assert f"${running_alan:,.2f} → ${stopped_alan:,.2f}" in alan
    assert "state running → stopped" in alan
    linus = next(line for line in body.splitlines() if NEW in line)
    assert f"– → ${prices.monthly('performance-1x', 2048, True, 1):,.2f}" in linus
    assert "performance-1x 2048 MB, ams" in linus

    as_json = fleet.fleet("preview", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr[-2000:]
    document = json.loads(as_json.stdout)
    assert document["counts"] == {"added": 1, "changed": 1, "replaced": 0, "started": 0, "stopped": 1, "removed": 1}
    assert document["cost"]["prices_date"] == prices.date
    assert key_value not in as_json.stdout + as_json.stderr


def test_the_gitlab_template_runs_the_same_plan_and_one_up_per_shard():
    gitlab = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    plan_script = " ".join(gitlab["fleet-plan"]["script"])
    assert 'bin/fleet preview --stack "$OPENCLAW_FLEET_STACK" --format markdown --output "$PLAN_FILE"' in plan_script
    up = gitlab["fleet-up"]
    assert '--shard "${CI_NODE_INDEX:-1}" --of "${CI_NODE_TOTAL:-1}"' in " ".join(up["script"])
    assert "$CI_NODE_INDEX" in up["resource_group"]
    assert gitlab["variables"]["PLAN_FILE"] == "fleet-plan.md"  # gitignored, outside the program files
