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


def test_the_plan_job_holds_no_write_credential_and_no_secret_outside_its_step():
    plan = workflow("fleet-plan.yml")
    assert plan["permissions"] == {"contents": "read"}
    job = plan["jobs"]["plan"]
    assert "secrets." not in yaml.safe_dump(job.get("env", {}))
    for step in job["steps"]:
        secrets = re.findall(r"secrets\.(\w+)", yaml.safe_dump(step))
        assert not secrets or step.get("name") == "Plan", step
        assert "FLY_API_TOKEN" not in secrets  # the plan step gets the read-only token
    plan_step = next(step for step in job["steps"] if step.get("name") == "Plan")
    assert plan_step["env"]["FLY_API_TOKEN"] == "${{ secrets.FLY_API_READONLY_TOKEN }}"
    assert set(PROGRAM_PATHS) <= set(plan["on"]["pull_request"]["paths"])


def test_the_comment_is_posted_by_the_default_branchs_code_only_over_its_own_comment():
    comment = workflow("fleet-plan-comment.yml")
    assert list(comment["on"]) == ["workflow_run"]
    script = next(step["with"]["script"] for step in steps(comment) if "github-script" in step.get("uses", ""))
    assert "c.user.login === 'github-actions[bot]'" in script
    render = next(step["run"] for step in steps(comment) if step.get("name") == "Render")
    assert "openclaw_fleet.cli render" in render and "--conclusion" in render


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
