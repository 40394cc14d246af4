"""The GitHub workflows run for real by ``act`` (host runner, offline) against the Fly emulator.

Third-party actions are replaced by the local stand-ins in ``act_standins/`` (``--local-repository``
maps each pinned action to one); every ``run:`` step runs as written, and the GitHub API is a
stand-in server of this test's own. On the default branch ``fleet-up.yml`` reads the shard list
with ``fleet shards`` and updates all three shard stacks, one job each. ``fleet-plan.yml``
(``pull_request_target``) plans a pull request that changes only the roster with the default
branch's code and publishes a check run and one comment; a pull request that changes code gets
"waits for approval", and its own ``bin/fleet`` never runs.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
from pathlib import Path
from typing import ClassVar

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
    for name in ("requirements.txt", "requirements.lock"):
        shutil.copy(ROOT / name, fleet.dir)
    git(fleet.dir, "init", "-q", "-b", "main")
    git(fleet.dir, "remote", "add", "origin", "https://github.com/team/fleet.git")
    fleet.write_roster({"users": [{"id": uid, "name": f"User {uid[-2:]}"} for uid in USERS]})
    git(fleet.dir, "add", "-A")
    git(fleet.dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "nine users")
    fleet.tokens_ = {"write": write, "readonly": readonly}
    yield fleet, emulator, work
    fleet.fleet("destroy", "--yes")
    emulator.stop()


def run_act(
    fleet: Fleet,
    work: Path,
    event: str,
    workflow: str,
    payload: dict,
    job: str = "",
    variables: dict[str, str] | None = None,
    **extra_env: str,
):
    """``act EVENT`` of one workflow file (of one ``job`` if given) with the stand-ins, the fleet's
    secrets and variables (and ``variables``)."""
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
        "GITHUB_TOKEN": "ghs-standin-" + "0" * 12,
    }
    env_file = work / "secrets.env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in secret_values.items()))
    args += ["--secret-file", str(env_file)]
    args += ["--var", f"FLEET_STACK={fleet.stack}", "--var", "OPENCLAW_FLEET_ALLOWED_HOSTS=127.0.0.1"]
    args += ["--var", "FLEET_CREATE_STACKS=true"]
    for key, value in (variables or {}).items():
        args += ["--var", f"{key}={value}"]
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


class GitHubApi(http.server.BaseHTTPRequestHandler):
    """The GitHub REST API as ``fleet render --publish`` uses it: the pull request's head, check
    runs, the pull request's comments. Records every call."""

    head: ClassVar[str] = ""
    comments: ClassVar[list] = []
    calls: ClassVar[list] = []

    def log_message(self, *args) -> None:
        pass

    def _answer(self, body) -> None:
        data = json.dumps(body).encode()
        self.send_response(200 if self.command == "GET" else 201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self.calls.append({"method": "GET", "path": self.path, "auth": self.headers.get("Authorization")})
        self._answer({"head": {"sha": self.head}} if "/pulls/" in self.path else self.comments)

    def _write(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.calls.append({"method": self.command, "path": self.path, "body": body})
        self._answer({"id": 5, "html_url": "https://github.com/team/fleet/runs/5"})

    def do_POST(self) -> None:
        self._write()

    def do_PATCH(self) -> None:
        self._write()


@pytest.fixture
def github_api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GitHubApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    GitHubApi.calls, GitHubApi.comments = [], []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def pull_request(fleet: Fleet, number: int, change) -> tuple[str, dict]:
    """Commit ``change(fleet)`` on a branch off main, make ``refs/pull/N/merge`` as GitHub does
    (the merge into main, main its first parent), and return the head and the event payload."""
    git(fleet.dir, "checkout", "-q", "-b", f"pr{number}", "main")
    change(fleet)
    git(fleet.dir, "add", "-A")
    git(fleet.dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", f"pull request {number}")
    head = git(fleet.dir, "rev-parse", "HEAD")
    git(fleet.dir, "checkout", "-q", "main")
    tree = git(fleet.dir, "rev-parse", f"{head}^{{tree}}")
    merge = git(
        fleet.dir,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit-tree",
        tree,
        "-p",
        "main",
        "-p",
        head,
        "-m",
        "merge",
    )
    git(fleet.dir, "update-ref", f"refs/pull/{number}/merge", merge)
    event = {
        "number": number,
        "pull_request": {"number": number, "head": {"repo": {"full_name": "team/fleet"}, "sha": head}},
        "repository": {"full_name": "team/fleet", "default_branch": "main"},
    }
    return head, event


def test_a_data_only_pull_request_is_planned_by_the_default_branchs_code(project, github_api):
    fleet, emulator, work = project
    shutil.rmtree(work / "artifacts", ignore_errors=True)
    users = [{"id": uid, "name": f"User {uid[-2:]}"} for uid in USERS[1:]]
    users[0]["name"] = "Mallory\r<!-- @team [x](http://evil.example)"
    users[0]["region"] = "ams"
    users.append({"id": "user_2act0newcomer", "name": "Newcomer"})
    head, event = pull_request(fleet, 7, lambda fleet: fleet.write_roster({"users": users}))
    GitHubApi.head = head
    ours = {"id": 2, "user": {"login": "github-actions[bot]"}, "body": MARKER + "\nthe last plan"}
    GitHubApi.comments = [{"id": 1, "user": {"login": "mallory"}, "body": MARKER + "\nforged"}, ours]
    writes = [call for call in emulator.calls if call["method"] != "GET"]
    run = run_act(fleet, work, "pull_request_target", "fleet-plan.yml", event, GITHUB_API_URL=github_api)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert [call for call in emulator.calls if call["method"] != "GET"] == writes  # a read-only plan
    assert "plan-after-approval" not in re.findall(r"\[fleet plan/([\w-]+)\]", run.stdout)
    check = next(call for call in GitHubApi.calls if call["path"].endswith("/check-runs"))
    assert (check["body"]["head_sha"], check["body"]["conclusion"]) == (head, "success")
    plan = check["body"]["output"]["summary"]
    assert "**1** added" in plan and "**1** removed" in plan and "Mallory &lt;!--" in plan
    assert "#### Trust" in plan and "user user\\_2act0newcomer" not in plan  # the newcomer has no key
    (comment,) = [call for call in GitHubApi.calls if call["method"] == "PATCH"]
    assert comment["path"].endswith("/issues/comments/2")  # ours, never the forged one
    assert "https://github.com/team/fleet/runs/5" in comment["body"]["body"]

    GitHubApi.calls, GitHubApi.head = [], "9" * 40  # the pull request moved on: nothing is written
    again = run_act(
        fleet, work, "pull_request_target", "fleet-plan.yml", event, job="publish", GITHUB_API_URL=github_api
    )
    assert again.returncode == 0, again.stdout[-4000:]
    assert [call["method"] for call in GitHubApi.calls] == ["GET"]


def test_a_pull_request_that_changes_code_waits_and_its_code_never_runs(project, github_api):
    fleet, _, work = project
    shutil.rmtree(work / "artifacts", ignore_errors=True)
    marker = work / "marker"

    def change(fleet):
        (fleet.dir / "bin" / "fleet").write_text(f"#!/bin/sh\nenv > {marker}\n")
        fleet.write_roster({"users": [{"id": uid, "name": "Changed"} for uid in USERS]})

    head, event = pull_request(fleet, 8, change)
    GitHubApi.head = head
    run = run_act(fleet, work, "pull_request_target", "fleet-plan.yml", event, job="waiting", GITHUB_API_URL=github_api)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert not marker.exists()
    ran = set(re.findall(r"\[fleet plan/([\w-]+)\]", run.stdout))
    assert ran == {"intake", "waiting"}, ran  # no job that holds a secret
    check = next(call for call in GitHubApi.calls if call["path"].endswith("/check-runs"))
    assert check["body"]["status"] == "in_progress" and "conclusion" not in check["body"]
    summary = check["body"]["output"]["summary"]
    assert "waits for approval" in summary.splitlines()[1]
    assert "bin/fleet" in summary.split("#### Trust", 1)[1]  # named under code and CI files
