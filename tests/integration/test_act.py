"""The GitHub workflows run for real by ``act`` (host runner, offline) against the Fly emulator.

Third-party actions are replaced by the local stand-ins in ``act_standins/`` (``--local-repository``
maps each pinned action to one); every ``run:`` step runs as written. On the default branch
``fleet-up.yml`` reads the shard list with ``fleet shards`` and updates all three shard stacks, one
job each. A pull request's ``fleet-plan.yml`` plans with a read-only Fly token and uploads the plan
document; ``fleet-plan-comment.yml`` (``workflow_run``) renders it and updates only the comment
``github-actions[bot]`` wrote, leaving a forged one alone; a failed plan run is said at the top.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from openclaw_fleet.cli.comment import MARKER
from openclaw_fleet.shards import shard_stacks
from tests.integration.fleet import ROOT, Fleet
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

SHARDS = 3
USERS = [f"user_2act0user00{index:02d}" for index in range(9)]
STANDINS = Path(__file__).parent / "act_standins"
STANDIN_OF = {
    "actions/checkout": "checkout",
    "actions/setup-python": "setup-python",
    "pulumi/actions": "pulumi",
    "actions/upload-artifact": "upload-artifact",
    "actions/download-artifact": "download-artifact",
    "actions/github-script": "github-script",
}


def act() -> str:
    """The act that ``bin/fleet test`` installs (``ACT``), or one on PATH."""
    found = os.environ.get("ACT") or shutil.which("act")
    assert found, "act is missing: `bin/fleet test` installs it (Go module proxy)"
    return found


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    work = tmp_path_factory.mktemp("act")
    write, readonly = "fly-write-" + secrets.token_hex(12), "fly-readonly-" + secrets.token_hex(12)
    emulator = Emulator(tokens=(write,), readonly_tokens=(readonly,), timing=Timing(start_s=0.5)).start()
    fleet = Fleet.for_fly(work, emulator, shards=str(SHARDS))
    fleet.roster = fleet.dir / "users" / "roster.yaml"
    fleet.roster.parent.mkdir()
    fleet.run("config", "set", "openclaw-fleet:roster", "users/roster.yaml")
    # The checkout stand-in copies the project into each job's workspace: files, not links.
    for name in ("bin", "tools", ".github"):
        shutil.copytree(ROOT / name, fleet.dir / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "requirements.txt", fleet.dir)
    git(fleet.dir, "init", "-q", "-b", "main")
    git(fleet.dir, "remote", "add", "origin", "https://github.com/team/fleet.git")
    fleet.write_roster({"users": [{"id": uid, "name": f"User {uid[-2:]}"} for uid in USERS]})
    git(fleet.dir, "add", "-A")
    git(fleet.dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "nine users")
    fleet.tokens_ = {"write": write, "readonly": readonly}
    yield fleet, emulator, work
    fleet.fleet("destroy", "--yes")
    emulator.stop()


def run_act(fleet: Fleet, work: Path, event: str, workflow: str, payload: dict, job: str = "", **extra_env: str):
    """``act EVENT`` of one workflow file (of one ``job`` if given) with the stand-ins, the fleet's
    secrets and variables."""
    (work / "event.json").write_text(json.dumps(payload))
    args = [act(), event, "-W", f".github/workflows/{workflow}", "-e", str(work / "event.json")]
    args += ["-j", job] if job else []
    args += ["-P", "ubuntu-latest=-self-hosted", "--no-skip-checkout", "--no-cache-server", "--action-offline-mode"]
    args += ["--action-cache-path", str(work / "act-cache")]  # the job workspaces: this test's own
    pinned = set(
        re.findall(
            r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40})",
            (fleet.dir / ".github").joinpath("workflows", workflow).read_text(),
        )
    )
    for action, sha in sorted(pinned):
        args += ["--local-repository", f"{action}@{sha}={STANDINS / STANDIN_OF[action]}"]
    secret_values = {
        "PULUMI_BACKEND_URL": fleet.env["PULUMI_BACKEND_URL"],
        "PULUMI_CONFIG_PASSPHRASE": fleet.env["PULUMI_CONFIG_PASSPHRASE"],
        "FLY_API_TOKEN": fleet.tokens_["write"],
        "FLY_API_READONLY_TOKEN": fleet.tokens_["readonly"],
    }
    env_file = work / "secrets.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in secret_values.items()))
    args += ["--secret-file", str(env_file)]
    args += ["--var", f"FLEET_STACK={fleet.stack}", "--var", "OPENCLAW_FLEET_ALLOWED_HOSTS=127.0.0.1"]
    standin_env = {
        "STANDIN_PYTHON_BIN": str((ROOT / ".venv" / "bin").resolve()),
        "STANDIN_PULUMI_BIN": str(Path(shutil.which("pulumi", path=fleet.env["PATH"])).parent),
        "STANDIN_ARTIFACTS": str(work / "artifacts"),
        "STANDIN_PROJECT": str(fleet.dir),
        **extra_env,
    }
    for key, value in standin_env.items():
        args += ["--env", f"{key}={value}"]
    env = {key: value for key, value in fleet.env.items() if key not in secret_values and key != "CI"}
    result = subprocess.run(args, cwd=fleet.dir, env=env, capture_output=True, text=True, timeout=1800)
    fleet.transcript.append(f"$ act {event} {workflow}\n{result.stdout}{result.stderr}")
    return result


def test_fleet_up_updates_every_shard_one_job_each(project):
    fleet, _, work = project
    payload = {"ref": "refs/heads/main", "repository": {"full_name": "team/fleet", "default_branch": "main"}}
    result = run_act(fleet, work, "push", "fleet-up.yml", payload)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    listed = {row["name"]: row for row in json.loads(fleet.run("stack", "ls", "--json", record=False))}
    for name in shard_stacks(fleet.stack, SHARDS):
        assert (listed[name].get("resourceCount") or 0) > 0, (name, listed.get(name))
    assert {row["user_id"] for row in json.loads(fleet.fleet("machines").stdout)} == set(USERS)
    assert fleet.tokens_["write"] not in result.stdout + result.stderr


def test_a_dispatch_off_the_default_branch_deploys_nothing(project):
    """The shards job is skipped off the default branch, and so is ``up`` (it needs shards, and has
    the same condition). act plans every job's matrix before running any, so only ``shards`` is run
    here; the same run on the default branch is the test above."""
    fleet, emulator, work = project
    writes = [call for call in emulator.calls if call["method"] != "GET"]
    payload = {"ref": "refs/heads/feature", "repository": {"full_name": "team/fleet", "default_branch": "main"}}
    result = run_act(fleet, work, "workflow_dispatch", "fleet-up.yml", payload, job="shards")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "openclaw_fleet.cli shards" not in result.stdout
    assert [call for call in emulator.calls if call["method"] != "GET"] == writes


def test_the_plan_and_its_comment_from_the_default_branchs_code(project):
    fleet, emulator, work = project
    users = [{"id": uid, "name": f"User {uid[-2:]}"} for uid in USERS[1:]]
    users[0]["name"] = "Mallory\r<!-- @team [x](http://evil.example)"
    users[0]["region"] = "ams"
    users.append({"id": "user_2act0newcomer", "name": "Newcomer"})
    fleet.write_roster({"users": users})
    writes = [call for call in emulator.calls if call["method"] != "GET"]
    pull_request = {
        "number": 7,
        "head": {"repo": {"full_name": "team/fleet"}, "sha": "1" * 40},
        "base": {"repo": {"full_name": "team/fleet"}},
    }
    payload = {"pull_request": pull_request, "repository": {"full_name": "team/fleet", "default_branch": "main"}}
    plan = run_act(fleet, work, "pull_request", "fleet-plan.yml", payload)
    assert plan.returncode == 0, plan.stdout[-5000:] + plan.stderr[-2000:]
    assert [call for call in emulator.calls if call["method"] != "GET"] == writes  # a read-only plan
    assert (work / "artifacts" / "fleet-plan" / "fleet-plan.json").exists()

    forged = {"id": 1, "user": {"login": "mallory"}, "body": MARKER + "\nforged: nothing changes"}
    ours = {"id": 2, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nthe last plan"}
    (work / "comments.json").write_text(json.dumps([forged, ours]))
    run = {
        "id": 99,
        "event": "pull_request",
        "conclusion": "success",
        "head_sha": "2" * 40,
        "html_url": "https://github.com/team/fleet/actions/runs/99",
        "pull_requests": [{"number": 7}],
    }
    calls = work / "calls.jsonl"
    comment = run_act(
        fleet,
        work,
        "workflow_run",
        "fleet-plan-comment.yml",
        {"workflow_run": run, "repository": {"full_name": "team/fleet", "default_branch": "main"}},
        STANDIN_COMMENTS=str(work / "comments.json"),
        STANDIN_CALLS=str(calls),
    )
    assert comment.returncode == 0, comment.stdout[-5000:] + comment.stderr[-2000:]
    (call,) = [json.loads(line) for line in calls.read_text().splitlines()]
    assert (call["call"], call["comment_id"]) == ("updateComment", 2)  # ours, never the forged one
    body = call["body"]
    assert "✅ ready" in body.splitlines()[1] and f"commit `{'2' * 12}`" in body
    assert "**1** added" in body and "**1** removed" in body and "Mallory &lt;!--" in body

    calls.unlink()
    failed = run_act(
        fleet,
        work,
        "workflow_run",
        "fleet-plan-comment.yml",
        {"workflow_run": {**run, "conclusion": "failure"}, "repository": {"full_name": "team/fleet"}},
        STANDIN_COMMENTS=str(work / "comments.json"),
        STANDIN_CALLS=str(calls),
    )
    assert failed.returncode == 0, failed.stdout[-3000:]
    (call,) = [json.loads(line) for line in calls.read_text().splitlines()]
    assert "❌ failed" in call["body"].splitlines()[1]
