"""`fleet drift-issue` against a stand-in of GitHub's Issues API: one issue is opened when users
differ, the same one is rewritten while they do, and it is closed when none does; a hostile
status document cannot make the body carry a mention or a link."""

import json

import pytest

from openclaw_fleet.cli import main
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
