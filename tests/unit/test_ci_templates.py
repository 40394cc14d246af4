"""The CI templates as a reviewer of their security would read them: actions pinned by commit,
no write credential where a pull request's code runs, deploys behind a protected environment and
the default branch, shard jobs that follow the stack's shards, and plans on program changes too.
The templates run for real in tests/integration/test_gitlab_ci_local.py."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PROGRAM_PATHS = ("users/**", "image/**", "Pulumi.yaml", "Pulumi.*.yaml", "__main__.py", "openclaw_fleet/**")


def workflow(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    document["on"] = document.pop(True, document.get("on"))  # YAML 1.1 reads the key `on` as true
    return document


def steps(document: dict):
    return [step for job in document["jobs"].values() for step in job.get("steps", [])]


def test_every_action_is_pinned_by_commit():
    for path in WORKFLOWS.glob("*.yml"):
        for step in steps(workflow(path.name)):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), (path.name, step["uses"])


def secrets_in(node) -> list[str]:
    return re.findall(r"secrets\.\w+|toJSON\(secrets\)", yaml.safe_dump(node))


def test_the_plan_runs_as_the_default_branch_has_it_and_secrets_sit_behind_environments():
    plan = workflow("fleet-plan.yml")
    assert list(plan["on"]) == ["pull_request_target"]  # this file as the default branch has it
    assert plan["permissions"] == {}
    assert plan["concurrency"]["group"] == "fleet-plan-${{ github.event.pull_request.number }}"
    assert not secrets_in(plan.get("env", {}))
    holding = {name for name, job in plan["jobs"].items() if secrets_in(job)}
    assert holding == {"plan", "plan-after-approval"}
    assert plan["jobs"]["plan"]["environment"] == "fleet-plan"
    assert plan["jobs"]["plan-after-approval"]["environment"] == "fleet-plan-approval"
    for name, job in plan["jobs"].items():
        assert set(job["permissions"]) <= {"contents", "checks", "pull-requests"}, name
        assert job["permissions"]["contents"] == "read", name
        for step in job["steps"]:
            if secrets_in(step):  # the plan steps get the read-only Fly token, never the deploy one
                assert "secrets.FLY_API_TOKEN" not in secrets_in(step)
                assert step["env"]["FLY_API_TOKEN"] == "${{ secrets.FLY_API_READONLY_TOKEN }}"


def test_only_the_approved_job_runs_the_pull_requests_code():
    """Every other job's workspace is the default branch's code: the merge commit is checked out
    beside it (``path: pull-request``), read by ``intake`` as data, and removed before secrets."""
    plan = workflow("fleet-plan.yml")
    for name, job in plan["jobs"].items():
        merge = [step for step in job["steps"] if (step.get("with") or {}).get("ref")]
        if name == "plan-after-approval":
            assert merge and "path" not in merge[0]["with"]
            continue
        assert all(step["with"]["path"] == "pull-request" for step in merge), name
        for step in job["steps"]:
            run = step.get("run", "")
            assert "pull-request" not in run or "openclaw_fleet.cli intake --pull-request pull-request" in run, run
    data = plan["jobs"]["plan"]["steps"]
    take = next(index for index, step in enumerate(data) if "--take" in step.get("run", ""))
    assert "rm -rf pull-request" in data[take]["run"]
    assert all(not secrets_in(step) for step in data[: take + 1])
    assert plan["jobs"]["intake"]["if"].endswith("|| vars.FLEET_PLAN_FORKS == 'true'")  # forks: off by default


def test_the_plan_is_published_by_the_default_branchs_code_with_trust_from_intake():
    plan = workflow("fleet-plan.yml")
    for name in ("waiting", "publish"):
        job = plan["jobs"][name]
        assert job["permissions"] == {"contents": "read", "checks": "write", "pull-requests": "write"}
        render = next(step["run"] for step in job["steps"] if "openclaw_fleet.cli render" in step.get("run", ""))
        assert "--trust trust/trust.json" in render and '--publish "$PR_NUMBER"' in render
        assert '--commit "$HEAD_SHA"' in render


def test_deploys_wait_for_a_protected_environment_on_the_default_branch():
    up = workflow("fleet-up.yml")
    assert "workflow_dispatch" in up["on"]
    assert (
        up["jobs"]["shards"]["if"] == "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
    )
    assert up["jobs"]["up"]["environment"]
    assert "openclaw_fleet.cli shards" in yaml.safe_dump(up["jobs"]["shards"])
    assert "secrets." not in yaml.safe_dump(up.get("env", {})) + yaml.safe_dump(up["jobs"]["up"].get("env", {}))
    assert set(PROGRAM_PATHS) <= set(up["on"]["push"]["paths"])


def test_gitlab_shard_jobs_follow_the_stacks_shards_and_install_nothing_by_pipe():
    gitlab = yaml.safe_load((ROOT / ".gitlab-ci.yml").read_text())
    fly = yaml.safe_load((ROOT / "Pulumi.fly.yaml").read_text())["config"]
    shards = int(fly.get("openclaw-fleet:shards", 1))
    assert gitlab["fleet-up"].get("parallel", 1) == shards
    assert '--of "${CI_NODE_TOTAL:-1}"' in " ".join(gitlab["fleet-up"]["script"])
    assert gitlab["fleet-up"]["environment"]["name"] == "production"
    text = (ROOT / ".gitlab-ci.yml").read_text()
    assert not re.search(r"curl[^\n]*\|\s*(ba)?sh", text)
    for job in ("fleet-plan", "fleet-up"):
        changes = gitlab[job]["rules"][0]["changes"]
        assert "openclaw_fleet/**/*" in changes and "__main__.py" in changes
