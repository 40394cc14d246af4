"""`fleet drift-issue` against a stand-in of GitHub's Issues API: one issue is opened when users
differ, the same one is rewritten while they do, and it is closed when none does; a hostile
status document cannot make the body carry a mention or a link."""

import json
from pathlib import Path

import httpx
import pytest

from openclaw_fleet.cli import drift_issue, main
from openclaw_fleet.cli.drift_issue import LABEL
from tests.github_issues import serving


@pytest.fixture
def github(monkeypatch):
    with serving() as (url, api):
        monkeypatch.setenv("GITHUB_API_URL", url)
        monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
        monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
        yield api


def status(tmp_path, differing: dict[str, list[str]]) -> str:
    users = [{"user_id": uid, "instance": f"oc-{uid}", "differs": words} for uid, words in differing.items()]
    document = {"schema": 1, "stack": "prod", "differing": list(differing), "users": users}
    document["repairs"] = ["bin/fleet up --refresh -s prod"] if differing else []
    path = tmp_path / "status.json"
    path.write_text(json.dumps(document))
    return str(path)


def test_one_issue_is_opened_kept_up_to_date_and_closed(github, tmp_path, capsys):
    assert main.main(["drift-issue", "--status", status(tmp_path, {"user_a": ["state stopped"]})]) == 0
    assert main.main(["drift-issue", "--status", status(tmp_path, {"user_a": ["gone"], "user_b": ["x"]})]) == 0
    (issue,) = github.issues
    assert issue["labels"] == [LABEL] and issue["title"].startswith("fleet: 2 user(s) of stack prod differ")
    assert "`bin/fleet up --refresh -s prod`" in issue["body"] and "`user_b`" in issue["body"]
    assert main.main(["drift-issue", "--status", status(tmp_path, {})]) == 0
    assert issue["state"] == "closed"
    assert main.main(["drift-issue", "--status", status(tmp_path, {})]) == 0  # nothing open: nothing to do
    said = capsys.readouterr().out
    assert "issue #1 opened" in said and "issue #1 updated" in said and "issue #1 closed" in said
    assert [call[0] for call in github.calls] == ["GET", "POST", "GET", "PATCH", "GET", "PATCH", "GET"]
    assert set(github.tokens) == {"Bearer t0ken"}


def test_a_hostile_document_cannot_mention_or_link(github, tmp_path):
    hostile = {"user_a": ["@org/admins see [here](https://evil.example) <img src=x>"]}
    assert main.main(["drift-issue", "--status", status(tmp_path, hostile)]) == 0
    body = github.issues[0]["body"]
    assert "@org" not in body and "@\u2060org" in body  # a word joiner: no mention
    assert "](https://" not in body and "<img" not in body  # no link, no HTML


def test_an_unreadable_document_or_a_missing_token_is_exit_2(github, tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert main.main(["drift-issue", "--status", str(tmp_path / "bad.json")]) == 2
    monkeypatch.delenv("GITHUB_TOKEN")
    assert main.main(["drift-issue", "--status", status(tmp_path, {"u": ["x"]})]) == 2
    assert "GITHUB_TOKEN not set" in capsys.readouterr().err and github.calls == []


class GitLabIssues:
    """A stand-in of GitLab's issues API (``/user``, ``/projects/7/issues``) as an httpx transport."""

    def __init__(self):
        self.issues, self.calls = [], []

    def __call__(self, request):
        self.calls.append((request.method, request.url.path))
        assert request.headers["PRIVATE-TOKEN"] == "glpat"
        if request.url.path == "/api/v4/user":
            return httpx.Response(200, json={"id": 3})
        if request.method == "GET":
            query = request.url.params
            assert (query["labels"], query["author_id"], query["state"]) == (LABEL, "3", "opened")
            return httpx.Response(200, json=[i for i in self.issues if i["state"] == "opened"])
        body = json.loads(request.content)
        if request.method == "POST":
            self.issues.append({**body, "iid": len(self.issues) + 1, "state": "opened"})
            return httpx.Response(201, json=self.issues[-1])
        issue = next(i for i in self.issues if request.url.path.endswith(f"/issues/{i['iid']}"))
        issue.update(body)
        if body.get("state_event") == "close":
            issue["state"] = "closed"
        return httpx.Response(200, json=issue)


def test_on_gitlab_the_same_one_issue_is_kept(tmp_path, monkeypatch):
    api = GitLabIssues()
    real = httpx.Client
    monkeypatch.setattr(drift_issue.httpx, "Client", lambda **kw: real(transport=httpx.MockTransport(api), **kw))
    environ = {"CI_API_V4_URL": "https://gitlab.example/api/v4", "CI_PROJECT_ID": "7", "GITLAB_API_TOKEN": "glpat"}
    differing = json.loads(Path(status(tmp_path, {"user_a": ["state stopped"]})).read_text())
    assert drift_issue.keep_issue(differing, environ) == "issue #1 opened"
    assert drift_issue.keep_issue(differing, environ) == "issue #1 updated"
    assert api.issues[0]["labels"] == LABEL and "`user_a`" in api.issues[0]["description"]
    none = json.loads(Path(status(tmp_path, {})).read_text())
    assert drift_issue.keep_issue(none, environ) == "no user differs; issue #1 closed"
    assert api.issues[0]["state"] == "closed"
