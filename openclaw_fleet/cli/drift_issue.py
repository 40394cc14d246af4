"""``fleet drift-issue``: one issue that lists the users whose gateways differ from the plan.

A scheduled workflow (``.github/workflows/fleet-drift.yml``, GitLab's ``fleet-drift`` job) runs
``fleet status --json`` and hands the document to this command, which keeps exactly one open
issue labelled ``fleet-drift`` by the pipeline's identity up to date: created when users differ,
its body rewritten while they do, closed when none does. The document is read as data; every text
from it is escaped.

GitHub (REST API, https://docs.github.com/en/rest/issues/issues) with ``GITHUB_API_URL``,
``GITHUB_REPOSITORY`` and ``GITHUB_TOKEN``; GitLab (https://docs.gitlab.com/api/issues/) with
``CI_API_V4_URL``, ``CI_PROJECT_ID`` and ``GITLAB_API_TOKEN`` (a project access token with the
Reporter role) when those are set instead. Raises NoteFailed saying which is missing or which call
failed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from openclaw_fleet.cli.comment import code, escape
from openclaw_fleet.cli.github import BOT, NEEDED
from openclaw_fleet.cli.notes import api_call
from openclaw_fleet.errors import NoteFailed

LABEL = "fleet-drift"
MOST_USERS = 200  # rows in the issue's body; the rest are counted


def issue_body(document: dict) -> tuple[str, str]:
    """The issue's title and Markdown body for a ``status --json`` document with users differing."""
    users = [user for user in document.get("users") or [] if user.get("differs")]
    title = f"fleet: {len(users)} user(s) of stack {str(document.get('stack'))[:60]} differ from the plan"
    lines = [f"`fleet status` found {len(users)} user(s) whose gateway is not as the plan says.", ""]
    lines += [f"Repair: {code(str(repair))}" for repair in (document.get("repairs") or [])[:5]]
    lines += ["", "| user | gateway | differs |", "| --- | --- | --- |"]
    for user in users[:MOST_USERS]:
        differs = "; ".join(str(words) for words in user["differs"][:5])
        lines.append(f"| {code(str(user.get('user_id')))} | {escape(str(user.get('instance')))} | {escape(differs)} |")
    if len(users) > MOST_USERS:
        lines.append(f"\n… and {len(users) - MOST_USERS} more (the workflow run's `status.json`).")
    lines += ["", "This issue is kept by the `fleet drift` workflow and closed when no user differs."]
    return title, "\n".join(lines) + "\n"


def keep_issue(document: dict, environ: Mapping[str, str] = os.environ, timeout_s: float = 30.0) -> str:
    """Create, update or close the one drift issue for ``document`` on GitHub, or on GitLab when
    its variables are set; returns what was done, in words."""
    if all(environ.get(name) for name in GITLAB_NEEDED) and not environ.get("GITHUB_TOKEN"):
        return keep_gitlab_issue(document, environ, timeout_s)
    missing = [name for name in NEEDED if not environ.get(name)]
    if missing:
        raise NoteFailed(f"cannot keep the drift issue: {', '.join(missing)} not set")
    repo = f"{environ['GITHUB_API_URL'].rstrip('/')}/repos/{environ['GITHUB_REPOSITORY']}"
    headers = {"Authorization": f"Bearer {environ['GITHUB_TOKEN']}", "Accept": "application/vnd.github+json"}
    differing = bool(document.get("differing"))
    with httpx.Client(headers=headers, timeout=timeout_s) as github:
        query = {"state": "open", "labels": LABEL, "creator": BOT, "per_page": 10}
        found = api_call(github, "GET", service="GitHub", url=f"{repo}/issues", params=query).json()
        ours = next((issue for issue in found if "pull_request" not in issue), None)
        if not differing:
            if ours is None:
                return "no user differs; no drift issue is open"
            api_call(github, "PATCH", service="GitHub", url=f"{repo}/issues/{ours['number']}", json={"state": "closed"})
            return f"no user differs; issue #{ours['number']} closed"
        title, body = issue_body(document)
        if ours is not None:
            change = {"title": title, "body": body}
            api_call(github, "PATCH", service="GitHub", url=f"{repo}/issues/{ours['number']}", json=change)
            return f"issue #{ours['number']} updated"
        created = {"title": title, "body": body, "labels": [LABEL]}
        number = api_call(github, "POST", service="GitHub", url=f"{repo}/issues", json=created).json()["number"]
        return f"issue #{number} opened"


GITLAB_NEEDED = ("CI_API_V4_URL", "CI_PROJECT_ID", "GITLAB_API_TOKEN")


def keep_gitlab_issue(document: dict, environ: Mapping[str, str], timeout_s: float) -> str:
    """``keep_issue`` on GitLab: the open issue labelled LABEL that the token's user opened."""
    api = environ["CI_API_V4_URL"].rstrip("/")
    issues = f"{api}/projects/{environ['CI_PROJECT_ID']}/issues"
    with httpx.Client(headers={"PRIVATE-TOKEN": environ["GITLAB_API_TOKEN"]}, timeout=timeout_s) as gitlab:
        me = api_call(gitlab, "GET", f"{api}/user").json()["id"]
        found = api_call(gitlab, "GET", issues, params={"state": "opened", "labels": LABEL, "author_id": me}).json()
        ours = found[0] if found else None
        if not document.get("differing"):
            if ours is None:
                return "no user differs; no drift issue is open"
            api_call(gitlab, "PUT", f"{issues}/{ours['iid']}", json={"state_event": "close"})
            return f"no user differs; issue #{ours['iid']} closed"
        title, body = issue_body(document)
        if ours is not None:
            api_call(gitlab, "PUT", f"{issues}/{ours['iid']}", json={"title": title, "description": body})
            return f"issue #{ours['iid']} updated"
        created = api_call(gitlab, "POST", issues, json={"title": title, "description": body, "labels": LABEL})
        return f"issue #{created.json()['iid']} opened"


def main(status_file: str) -> int:
    """``fleet drift-issue --status FILE``: 0 when the issue is as the document says, 2 when the
    document cannot be read or GitHub refused."""
    try:
        document = json.loads(Path(status_file).read_text())
        if not isinstance(document, dict):
            raise ValueError("not a status document")
        print(f"fleet: {keep_issue(document)}")
    except (OSError, ValueError, RecursionError) as error:
        print(f"fleet: drift-issue: {status_file}: {type(error).__name__}: {str(error)[:200]}", file=sys.stderr)
        return 2
    except NoteFailed as error:
        print(f"fleet: drift-issue: {error}", file=sys.stderr)
        return 2
    return 0
