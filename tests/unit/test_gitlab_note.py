"""``fleet gitlab-note``: the plan note this job's token wrote is updated, a note anyone else
wrote with the same marker is never touched, and failures say which call failed."""

import http.server
import json
import threading
from typing import ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest

from openclaw_fleet.cli.comment import MARKER
from openclaw_fleet.cli.notes import post_note
from openclaw_fleet.errors import NoteFailed

ME, SOMEONE = 7, 9


class FakeGitLab(http.server.BaseHTTPRequestHandler):
    """The three calls of GitLab's API the command makes, on loopback; records writes."""

    notes: ClassVar[list[dict]] = []
    writes: ClassVar[list[tuple[str, str, dict]]] = []

    def _answer(self, status: int, body: object, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.headers.get("PRIVATE-TOKEN") != "glpat-test":
            return self._answer(401, {"message": "401 Unauthorized"})
        if self.path == "/api/v4/user":
            return self._answer(200, {"id": ME})
        page = int(parse_qs(urlsplit(self.path).query)["page"][0])
        chunk = FakeGitLab.notes[(page - 1) * 2 : page * 2]
        more = len(FakeGitLab.notes) > page * 2
        return self._answer(200, chunk, {"x-next-page": str(page + 1) if more else ""})

    def _write(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeGitLab.writes.append((self.command, self.path, body))
        self._answer(200, {"id": 1})

    do_PUT = do_POST = _write  # noqa: N815

    def log_message(self, *_):
        pass


@pytest.fixture
def gitlab(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeGitLab)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeGitLab.notes, FakeGitLab.writes = [], []
    plan = tmp_path / "fleet-plan.md"
    plan.write_text(MARKER + "\n### plan\n")
    environ = {
        "CI_API_V4_URL": f"http://127.0.0.1:{server.server_address[1]}/api/v4",
        "CI_PROJECT_ID": "12",
        "CI_MERGE_REQUEST_IID": "3",
        "GITLAB_API_TOKEN": "glpat-test",
    }
    yield plan, environ
    server.shutdown()


def test_only_the_note_this_token_wrote_is_updated(gitlab):
    plan, environ = gitlab
    FakeGitLab.notes = [
        {"id": 100, "author": {"id": SOMEONE}, "body": MARKER + "\nforged: nothing changes"},
        {"id": 101, "author": {"id": ME}, "body": "an unrelated note"},
        {"id": 102, "author": {"id": ME}, "body": MARKER + "\nthe last plan"},
    ]
    assert post_note(plan, environ) == "updated"
    assert FakeGitLab.writes == [("PUT", "/api/v4/projects/12/merge_requests/3/notes/102", {"body": plan.read_text()})]


def test_a_forged_note_alone_gets_a_new_note_beside_it(gitlab):
    plan, environ = gitlab
    FakeGitLab.notes = [{"id": 100, "author": {"id": SOMEONE}, "body": MARKER + "\nforged"}]
    assert post_note(plan, environ) == "created"
    assert [write[:2] for write in FakeGitLab.writes] == [("POST", "/api/v4/projects/12/merge_requests/3/notes")]


def test_failures_name_the_call_and_never_the_token(gitlab):
    plan, environ = gitlab
    with pytest.raises(NoteFailed, match=r"GitLab GET /api/v4/user: 401") as caught:
        post_note(plan, {**environ, "GITLAB_API_TOKEN": "glpat-wrong"})
    assert "glpat-wrong" not in str(caught.value)
    with pytest.raises(NoteFailed, match="GITLAB_API_TOKEN not set"):
        post_note(plan, {**environ, "GITLAB_API_TOKEN": ""})
