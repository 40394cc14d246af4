"""A stand-in of GitHub's Issues API as `fleet drift-issue` uses it, for the unit test and the act run."""

import json
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

from openclaw_fleet.cli.drift_issue import LABEL


class IssuesAPI(BaseHTTPRequestHandler):
    """``GET/POST /repos/o/r/issues`` and ``PATCH /repos/o/r/issues/{n}``, kept in ``issues``."""

    issues: ClassVar[list[dict]] = []
    calls: ClassVar[list[tuple[str, str]]] = []
    tokens: ClassVar[list[str | None]] = []  # the Authorization header of each GET

    def reply(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def read(self) -> dict:
        return json.loads(self.rfile.read(int(self.headers["Content-Length"])))

    def do_GET(self):
        url = urlparse(self.path)
        self.calls.append(("GET", url.path))
        query = parse_qs(url.query)
        self.tokens.append(self.headers.get("Authorization"))
        found = [i for i in self.issues if i["state"] == query["state"][0] and LABEL in i["labels"]]
        self.reply(200, [i for i in found if i["user"]["login"] == query["creator"][0]])

    def do_POST(self):
        self.calls.append(("POST", self.path))
        issue = {
            **self.read(),
            "number": len(self.issues) + 1,
            "state": "open",
            "user": {"login": "github-actions[bot]"},
        }
        self.issues.append(issue)
        self.reply(201, issue)

    def do_PATCH(self):
        self.calls.append(("PATCH", self.path))
        issue = next(i for i in self.issues if self.path.endswith(f"/issues/{i['number']}"))
        issue.update(self.read())
        self.reply(200, issue)

    def log_message(self, *args):
        pass


@contextmanager
def serving():
    """The stand-in on 127.0.0.1, emptied: yields (its URL, the handler class holding ``issues`` and ``calls``)."""
    IssuesAPI.issues, IssuesAPI.calls, IssuesAPI.tokens = [], [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), IssuesAPI)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", IssuesAPI
    finally:
        server.shutdown()
