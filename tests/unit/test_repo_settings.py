"""``fleet check-github`` against a stand-in of GitHub's REST API: a repository set up as
docs/pull-requests-and-ci.md asks passes; each usual mistake (a credential among the repository
secrets, a plan environment any branch may enter, an approval without reviewers or with
self-review, an unprotected branch, tokens that write) is named, and the exit status is 1."""

import base64
import copy
import http.server
import json
import threading
from typing import ClassVar

import pytest

from openclaw_fleet.cli import repo_settings

OWNERS = "\n".join(f"{path} @org/fleet" for path in repo_settings.OWNED_PATHS) + "\n"
REVIEWED = {"type": "required_reviewers", "prevent_self_review": True, "reviewers": [{"type": "Team"}]}
DEFAULT_ONLY = {"protected_branches": False, "custom_branch_policies": True}
KEPT = {
    "/repos/o/r": {"default_branch": "main"},
    "/repos/o/r/environments/fleet-plan": {"protection_rules": [], "deployment_branch_policy": DEFAULT_ONLY},
    "/repos/o/r/environments/fleet-plan/deployment-branch-policies": {"branch_policies": [{"name": "main"}]},
    "/repos/o/r/environments/fleet-plan-approval": {
        "protection_rules": [REVIEWED],
        "deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": False},
    },
    "/repos/o/r/environments/production": {
        "protection_rules": [REVIEWED],
        "deployment_branch_policy": {"protected_branches": True, "custom_branch_policies": False},
    },
    "/repos/o/r/actions/secrets": {"total_count": 1, "secrets": [{"name": "SLACK_WEBHOOK"}]},
    "/repos/o/r/branches/main/protection": {
        "required_pull_request_reviews": {"require_code_owner_reviews": True, "dismiss_stale_reviews": True},
        "required_status_checks": {"contexts": [], "checks": [{"context": "fleet plan", "app_id": 15368}]},
    },
    "/repos/o/r/actions/permissions/workflow": {
        "default_workflow_permissions": "read",
        "can_approve_pull_request_reviews": False,
    },
    "/repos/o/r/contents/.github/CODEOWNERS": {"content": base64.b64encode(OWNERS.encode()).decode()},
}


class Api(http.server.BaseHTTPRequestHandler):
    answers: ClassVar[dict] = {}
    seen: ClassVar[list] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        self.seen.append((path, self.headers.get("Authorization")))
        body = self.answers.get(path)
        data = json.dumps(body if body is not None else {"message": "Not Found"}).encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def api():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Api)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Api.seen = []
    yield {
        "GITHUB_API_URL": f"http://127.0.0.1:{server.server_port}",
        "GITHUB_TOKEN": "ghs-test",
        "GITHUB_REPOSITORY": "o/r",
    }
    server.shutdown()


def test_a_repository_set_up_as_the_docs_ask_keeps_every_setting(api, capsys):
    Api.answers = KEPT
    assert repo_settings.main(None, "production", api) == 0
    out = capsys.readouterr().out
    assert "NOT KEPT" not in out and "8 of 8 settings kept in o/r" in out
    assert all(auth == "Bearer ghs-test" for _, auth in Api.seen)


def test_each_usual_mistake_is_named(api, capsys):
    answers = copy.deepcopy(KEPT)
    answers["/repos/o/r/actions/secrets"]["secrets"].append({"name": "PULUMI_CONFIG_PASSPHRASE"})
    answers["/repos/o/r/environments/fleet-plan"]["deployment_branch_policy"] = None  # any branch
    answers["/repos/o/r/environments/fleet-plan-approval"]["protection_rules"][0] = {
        **REVIEWED,
        "prevent_self_review": False,
    }
    del answers["/repos/o/r/environments/production"]
    del answers["/repos/o/r/branches/main/protection"]
    answers["/repos/o/r/actions/permissions/workflow"]["default_workflow_permissions"] = "write"
    Api.answers = answers
    assert repo_settings.main(None, "production", api) == 1
    missing = [line for line in capsys.readouterr().out.splitlines() if line.startswith("NOT KEPT")]
    assert [line.split(":")[0].removeprefix("NOT KEPT").strip() for line in missing] == [
        "environment fleet-plan",
        "environment fleet-plan-approval",
        "environment production",
        "no fleet credential among the repository secrets",
        "branch main protected",
        "workflow tokens read only by default, and cannot approve pull requests",
    ]
    assert "found PULUMI_CONFIG_PASSPHRASE" in missing[3] and "every branch" in missing[0]


def test_no_token_is_exit_2_saying_what_is_needed(capsys):
    assert repo_settings.main("o/r", "production", {}) == 2
    assert "needs GITHUB_TOKEN" in capsys.readouterr().err
