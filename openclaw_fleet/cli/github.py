"""``fleet render --publish``: the plan as a GitHub check run nobody can edit, and one comment that links to it.

GitHub's REST API (https://docs.github.com/en/rest): a check run (``POST /repos/{repo}/check-runs``)
is written only by a GitHub App holding ``checks: write`` (the workflow's ``GITHUB_TOKEN`` is one),
and no user can edit it; a comment can be edited by anyone with write access, so the comment only
summarises and names the check run as the plan of record. Before writing, the pull request's
current head is read (``GET /repos/{repo}/pulls/{n}``): a run for an older head writes nothing, so
an older plan never replaces a newer one. Reads ``GITHUB_API_URL``, ``GITHUB_REPOSITORY`` and
``GITHUB_TOKEN``; raises NoteFailed saying which is missing or which call failed (its HTTP status),
never the token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from openclaw_fleet.cli.comment import MARKER
from openclaw_fleet.cli.notes import api_call
from openclaw_fleet.errors import NoteFailed

NEEDED = ("GITHUB_API_URL", "GITHUB_REPOSITORY", "GITHUB_TOKEN")
CHECK_NAME = "fleet plan"
BOT = "github-actions[bot]"  # the GITHUB_TOKEN's identity: the comment this workflow wrote
OUTPUT_LIMIT = 65_535  # a check run's output summary, in characters
# The plan's status → the check run's conclusion; a plan that waits stays in progress.
CONCLUSIONS = {"ready": "success", "refused": "failure", "failed": "failure", "waiting": None}


def publish(
    body: str, status: str, number: int, head_sha: str, environ: Mapping[str, str] = os.environ, timeout_s: float = 30.0
) -> str:
    """Publish the plan comment ``body`` (status ``ready``, ``refused``, ``failed`` or ``waiting``)
    of pull request ``number`` at ``head_sha``: a check run, then the one comment this identity
    wrote, created or updated. Returns what was done, in words; ``skipped: …`` when the pull
    request's head is no longer ``head_sha``."""
    missing = [name for name in NEEDED if not environ.get(name)]
    if missing:
        raise NoteFailed(f"cannot publish the plan: {', '.join(missing)} not set (the plan is in the run's artifact)")
    if not body.startswith(MARKER):
        raise NoteFailed("the text to publish is not a plan comment (it does not start with the plan's marker)")
    repo = f"{environ['GITHUB_API_URL'].rstrip('/')}/repos/{environ['GITHUB_REPOSITORY']}"
    headers = {
        "Authorization": f"Bearer {environ['GITHUB_TOKEN']}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    with httpx.Client(headers=headers, timeout=timeout_s) as github:
        current = api_call(github, "GET", service="GitHub", url=f"{repo}/pulls/{number}").json()["head"]["sha"]
        if current != head_sha:
            return f"skipped: the pull request's head is now {current[:12]}, not {head_sha[:12]}"
        conclusion = CONCLUSIONS[status]
        check = {"name": CHECK_NAME, "head_sha": head_sha, "status": "completed" if conclusion else "in_progress"}
        check |= {"conclusion": conclusion} if conclusion else {}
        title = body.splitlines()[1].removeprefix("### ")[:200]
        check["output"] = {"title": title, "summary": body[:OUTPUT_LIMIT]}
        url = (
            api_call(github, "POST", service="GitHub", url=f"{repo}/check-runs", json=check).json().get("html_url", "")
        )
        comment = _with_link(body, url)
        ours = next((c for c in _comments(github, f"{repo}/issues/{number}/comments") if _is_ours(c)), None)
        if ours is not None:
            api_call(
                github, "PATCH", service="GitHub", url=f"{repo}/issues/comments/{ours['id']}", json={"body": comment}
            )
            return "check run created, comment updated"
        api_call(github, "POST", service="GitHub", url=f"{repo}/issues/{number}/comments", json={"body": comment})
        return "check run created, comment created"


def _with_link(body: str, check_url: str) -> str:
    """The comment: the plan, with a line under its heading naming the check run as the record."""
    marker, heading, rest = body.split("\n", 2)
    link = f"[check run “{CHECK_NAME}”]({check_url})" if check_url.startswith("https://") else f"“{CHECK_NAME}”"
    note = f"The plan of record is the {link}, which nobody can edit; this comment is a copy."
    return f"{marker}\n{heading}\n\n{note}\n{rest}"


def _is_ours(comment: dict) -> bool:
    return (comment.get("user") or {}).get("login") == BOT and str(comment.get("body", "")).startswith(MARKER)


def _comments(github: httpx.Client, url: str):
    """Every comment of the pull request, page by page (100 a page)."""
    page = 1
    while True:
        answer = api_call(github, "GET", service="GitHub", url=url, params={"per_page": 100, "page": page}).json()
        yield from answer
        if len(answer) < 100:
            return
        page += 1
