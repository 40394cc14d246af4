"""``fleet gitlab-note FILE``: post the plan as the one merge-request note this job's token wrote.

GitLab's REST API (https://docs.gitlab.com/api/notes/#merge-requests): ``GET /user`` names the
token's user; the merge request's notes are listed page by page, and the note to update is the one
that user wrote whose body starts with the plan's marker. A note anyone else wrote, even with the
marker, is never touched: a marker is text anyone can type. Reads ``CI_API_V4_URL``,
``CI_PROJECT_ID``, ``CI_MERGE_REQUEST_IID`` and ``GITLAB_API_TOKEN``; raises NoteFailed saying
which is missing or which call failed (its HTTP status), never the token.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import httpx

from openclaw_fleet.cli.comment import MARKER
from openclaw_fleet.errors import NoteFailed

NEEDED = ("CI_API_V4_URL", "CI_PROJECT_ID", "CI_MERGE_REQUEST_IID", "GITLAB_API_TOKEN")


def post_note(body_file: Path, environ: Mapping[str, str] = os.environ, timeout_s: float = 30.0) -> str:
    """Create or update the plan note from ``body_file``; return ``created`` or ``updated``."""
    missing = [name for name in NEEDED if not environ.get(name)]
    if missing:
        raise NoteFailed(f"cannot post the plan note: {', '.join(missing)} not set (the plan is in the job's artifact)")
    body = body_file.read_text()
    if not body.startswith(MARKER):
        raise NoteFailed(f"{body_file} is not a plan comment (it does not start with the plan's marker)")
    api = environ["CI_API_V4_URL"].rstrip("/")
    notes = f"{api}/projects/{environ['CI_PROJECT_ID']}/merge_requests/{environ['CI_MERGE_REQUEST_IID']}/notes"
    with httpx.Client(headers={"PRIVATE-TOKEN": environ["GITLAB_API_TOKEN"]}, timeout=timeout_s) as gitlab:
        me = api_call(gitlab, "GET", f"{api}/user").json()["id"]
        ours, page = None, 1
        while ours is None and page:
            answer = api_call(gitlab, "GET", notes, params={"per_page": 100, "page": page, "sort": "asc"})
            ours = next(
                (n for n in answer.json() if (n.get("author") or {}).get("id") == me and n["body"].startswith(MARKER)),
                None,
            )
            page = int(answer.headers.get("x-next-page") or 0)
        if ours is not None:
            api_call(gitlab, "PUT", f"{notes}/{ours['id']}", json={"body": body})
            return "updated"
        api_call(gitlab, "POST", notes, json={"body": body})
        return "created"


def api_call(client: httpx.Client, method: str, url: str, service: str = "GitLab", **kwargs) -> httpx.Response:
    """``client.request`` of ``service``'s API; raises NoteFailed naming the method, the path and
    the HTTP status, or that no answer came (never a header: they carry the token)."""
    path = httpx.URL(url).path
    try:
        answer = client.request(method, url, **kwargs)
    except httpx.HTTPError as error:
        raise NoteFailed(f"{service} {method} {path}: no answer ({type(error).__name__})") from None
    if answer.status_code >= 400:
        raise NoteFailed(f"{service} {method} {path}: {answer.status_code}")
    return answer
