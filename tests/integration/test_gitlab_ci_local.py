"""The GitLab template run for real by ``gitlab-ci-local`` (shell executor) against the Fly emulator.

A throwaway project (its own git repository, with ``origin/main`` as GitLab would have it) holds
the template as a team with three shards would set it (``parallel: 3``). On the default branch
the ``fleet-up`` jobs update all three shard stacks, one job each. On a merge request that
changes three users, the ``fleet-plan`` job plans with a read-only Fly token (the emulator refuses
any write with it), writes the comment body and posts it as the merge request's note through
GitLab's API (a stand-in on loopback).
"""

from __future__ import annotations

import http.server
import json
import os
import secrets
import shutil
import subprocess
import threading
from pathlib import Path

import pytest
import yaml

from openclaw_fleet.cli.comment import MARKER
from openclaw_fleet.shards import shard_stacks
from tests.integration.fleet import ROOT, Fleet
from tests.unit.test_gitlab_note import FakeGitLab
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

SHARDS = 3
USERS = [f"user_2gitlab0user{index:02d}" for index in range(9)]


def gitlab_ci_local() -> str:
    """The gitlab-ci-local that ``bin/fleet test`` installs (``GITLAB_CI_LOCAL``), or one on PATH."""
    found = os.environ.get("GITLAB_CI_LOCAL") or shutil.which("gitlab-ci-local")
    assert found, "gitlab-ci-local is missing: `bin/fleet test` installs it (npm)"
    return found


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    write, readonly = "fly-write-" + secrets.token_hex(12), "fly-readonly-" + secrets.token_hex(12)
    emulator = Emulator(tokens=(write,), readonly_tokens=(readonly,), timing=Timing(start_s=0.5)).start()
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("gitlab"), emulator, shards=str(SHARDS))
    fleet.roster = fleet.dir / "users" / "roster.yaml"
    fleet.roster.parent.mkdir()
    fleet.run("config", "set", "openclaw-fleet:roster", "users/roster.yaml")
    for name in ("bin", "tools", "requirements.txt", "requirements.lock"):
        (fleet.dir / name).symlink_to(ROOT / name)
    template = (ROOT / ".gitlab-ci.yml").read_text()
    # What a team with three shards writes, as the template's comment says.
    template = template.replace(
        "  environment:\n    name: production", f"  parallel: {SHARDS}\n  environment:\n    name: production", 1
    )  # the first is fleet-up's
    # And what a team on a shell executor with its own Docker engine writes, as the template says:
    # no `docker:dind` service (gitlab-ci-local would pull its image, and nothing can be pulled here).
    dind = "  services:\n    - name: docker:27-dind\n      alias: docker\n"
    assert dind in template
    template = template.replace(dind, "")
    (fleet.dir / ".gitlab-ci.yml").write_text(template)
    (fleet.dir / ".gitignore").write_text(".venv\n.gitlab-ci-local/\nfleet-plan.md*\n")
    git(fleet.dir, "init", "-q", "-b", "main")
    git(fleet.dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "empty")
    git(fleet.dir, "remote", "add", "origin", "https://gitlab.example.com/team/fleet.git")
    git(fleet.dir, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(fleet.dir, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/main")
    fleet.env = {**fleet.env, "FLY_API_TOKEN": write}
    yield fleet, emulator, readonly
    fleet.env["FLY_API_TOKEN"] = write
    fleet.fleet("destroy", "--yes")
    emulator.stop()


def commit_roster(fleet: Fleet, users: list[dict], message: str) -> None:
    fleet.write_roster({"users": users})
    git(fleet.dir, "add", "-A")
    git(fleet.dir, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)


def run_job(fleet: Fleet, job: str, *variables: str) -> subprocess.CompletedProcess:
    # The shell executor runs no `docker:dind` service: the jobs use this machine's engine.
    base = [f"OPENCLAW_FLEET_STACK={fleet.stack}", "OPENCLAW_FLEET_ALLOWED_HOSTS=127.0.0.1"]
    base.append(f"DOCKER_HOST={os.environ.get('DOCKER_HOST') or 'unix:///var/run/docker.sock'}")
    args = [gitlab_ci_local(), "--force-shell-executor", job]
    for variable in base + list(variables):
        args += ["--variable", variable]
    env = {key: value for key, value in fleet.env.items() if key != "CI"}
    result = subprocess.run(args, cwd=fleet.dir, env=env, capture_output=True, text=True, timeout=1800)
    fleet.transcript.append(f"$ gitlab-ci-local {job}\n{result.stdout}{result.stderr}")
    return result


def test_fleet_up_runs_one_job_per_shard_and_updates_every_shard(project):
    fleet, _, _ = project
    commit_roster(fleet, [{"id": uid, "name": f"User {uid[-2:]}"} for uid in USERS], "nine users")
    result = run_job(fleet, "fleet-up", "FLEET_CREATE_STACKS=true")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for index in range(1, SHARDS + 1):
        assert f"PASS  fleet-up: [{index}/{SHARDS}]" in result.stdout
    listed = {row["name"]: row for row in json.loads(fleet.run("stack", "ls", "--json", record=False))}
    for name in shard_stacks(fleet.stack, SHARDS):
        assert (listed[name].get("resourceCount") or 0) > 0, (name, listed[name])
    machines = {row["user_id"] for row in json.loads(fleet.fleet("machines").stdout)}
    assert machines == set(USERS)


def test_fleet_plan_plans_with_a_read_only_token_and_posts_the_note(project):
    fleet, emulator, readonly = project
    git(fleet.dir, "update-ref", "refs/remotes/origin/main", "HEAD")
    git(fleet.dir, "checkout", "-q", "-b", "change-three-users")
    users = [{"id": uid, "name": f"User {uid[-2:]}"} for uid in USERS[1:]]  # USERS[0] leaves
    users[0]["model"] = "openai/gpt-5.1"
    users.append({"id": "user_2gitlab0newone", "name": "Newcomer"})
    commit_roster(fleet, users, "three changes")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGitLab)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeGitLab.notes, FakeGitLab.writes = [], []
    writes_before = [call for call in emulator.calls if call["method"] != "GET"]
    try:
        result = run_job(
            fleet,
            "fleet-plan",
            "CI_PIPELINE_SOURCE=merge_request_event",
            "CI_MERGE_REQUEST_IID=3",
            f"CI_MERGE_REQUEST_DIFF_BASE_SHA={git(fleet.dir, 'rev-parse', 'HEAD~1')}",
            f"CI_API_V4_URL=http://127.0.0.1:{server.server_address[1]}/api/v4",
            "GITLAB_API_TOKEN=glpat-test",
            f"FLY_API_READONLY_TOKEN={readonly}",
        )
    finally:
        server.shutdown()
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    body = (fleet.dir / "fleet-plan.md").read_text()
    assert body.startswith(MARKER) and "✅ ready" in body.splitlines()[1]
    assert "**1** added · **1** changed · **0** replaced · **0** started · **0** stopped · **1** removed" in body
    assert "#### Trust" in body and "No change of trust" in body  # a roster change that names no key
    ((method, path, posted),) = FakeGitLab.writes
    assert (method, posted["body"]) == ("POST", body) and path.endswith("/merge_requests/3/notes")
    assert [call for call in emulator.calls if call["method"] != "GET"] == writes_before  # read-only: no write
    assert readonly not in body and readonly not in result.stdout
    assert yaml.safe_load((fleet.dir / ".gitlab-ci.yml").read_text())["fleet-up"]["parallel"] == SHARDS
