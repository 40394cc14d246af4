"""The emulator held to the Machines API spec: every request it receives and every answer it
gives, checked against ``fly-machines-openapi.json`` (OpenAPI 3.0) with openapi-core.

Requests (what the providers send) are checked as the spec has them. Answers too, with three
rules where the spec, generated from Go, says less than the live API does:

- an error status the spec does not list for an operation (404, 408, 409, 412…: the live API
  answers them, and Fly's docs describe them) must carry the spec's ``ErrorResponse`` body;
- a property may be ``null``: the live API sends Go's nil pointers (an unattached volume's
  ``attached_machine_id``) as null, and the spec marks none of them nullable;
- ``LIVE_DIFFERENCES`` lists the answers of the live API that differ from the spec and that the
  emulator copies (each says ``live:`` in ``server.py``); they are not checked.

Answers the emulator makes up on purpose (fault injection: 429, 5xx, dropped connections) are not
checked; their requests are.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from pathlib import Path
from typing import ClassVar

from openapi_core import Config, OpenAPI
from openapi_core.testing import MockRequest, MockResponse

SPEC = Path(__file__).resolve().parent / "spec" / "fly-machines-openapi.json"  # Fly's own document; see spec/README.md
SERVER = "https://api.machines.dev"

# (method, path pattern, status): answers of the live API that differ from the spec.
LIVE_DIFFERENCES = [
    ("POST", r"/v1/apps", 409),  # a taken app name; the spec lists 201 and 400 only
    ("POST", r"/v1/apps/[^/]+/machines/[^/]+/lease", 201),  # wrapped {"status", "data"}; spec: a bare Lease
    ("GET", r"/v1/apps/[^/]+/machines/[^/]+/lease", 200),  # wrapped likewise
]


def _nullable(node):
    """The spec with every property allowed to be null (see the module docstring)."""
    if isinstance(node, dict):
        for schema in (node.get("properties") or {}).values():
            if isinstance(schema, dict) and "$ref" not in schema:
                schema["nullable"] = True
        for value in node.values():
            _nullable(value)
    elif isinstance(node, list):
        for value in node:
            _nullable(value)
    return node


class Contract:
    """Checks calls against the spec; ``mismatches`` lists what did not match, one line each
    (``all_mismatches``: those of every Contract of the process, in order; ``checked``: calls)."""

    all_mismatches: ClassVar[list[str]] = []
    checked: ClassVar[int] = 0
    _openapi: ClassVar[OpenAPI | None] = None
    _responses: ClassVar[dict] = {}
    _load_lock = threading.Lock()

    def __init__(self, spec: Path = SPEC):
        with Contract._load_lock:
            if Contract._openapi is None:
                # The published spec repeats an operationId (Machines_update_metadata), which the
                # spec validator refuses; the paths and schemas checked here are sound.
                document = json.loads(spec.read_text())
                Contract._responses = {
                    (method.upper(), re.compile("/v1" + re.sub(r"\{[^}]+\}", "[^/]+", template))): operation[
                        "responses"
                    ]
                    for template, operations in document["paths"].items()
                    for method, operation in operations.items()
                }
                config = Config(spec_validator_cls=None)
                Contract._openapi = OpenAPI.from_dict(_nullable(copy.deepcopy(document)), config=config)
        self.mismatches: list[str] = []

    def check(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
        status: int | None,
        answer: bytes,
    ) -> None:
        """Check one call; ``status`` None for an answer that is not checked (fault injection)."""
        request = MockRequest(
            SERVER,
            method.lower(),
            path,
            args={key: values[-1] for key, values in query.items()},
            headers=headers,
            data=body or None,
        )
        problems = []
        try:
            self._openapi.validate_request(request)
        except Exception as error:  # openapi-core raises a family of validation errors
            problems.append(f"request: {_reason(error)}")
        if status is not None:
            problems += self._check_answer(request, method, path, status, answer)
        found = [f"{method} {path}: {problem}" for problem in problems]
        with Contract._load_lock:
            Contract.checked += 1
            self.mismatches += found
            Contract.all_mismatches += found

    def _check_answer(self, request: MockRequest, method: str, path: str, status: int, answer: bytes) -> list[str]:
        if any(method == m and re.fullmatch(pattern, path) and status == s for m, pattern, s in LIVE_DIFFERENCES):
            return []
        responses = next(
            (r for (m, pattern), r in self._responses.items() if m == method and pattern.fullmatch(path)), None
        )
        if responses is None:
            return []  # no such operation: the request check has said so
        listed = responses.get(str(status)) or responses.get("default")
        if listed is None:
            if status < 400:
                return [f"answer {status}: not a status the spec lists ({', '.join(responses)})"]
            try:
                body = json.loads(answer or b"null")
            except ValueError:
                body = None
            if not (isinstance(body, dict) and isinstance(body.get("error"), str)):
                return [f"answer {status}: an error without the spec's ErrorResponse body"]
            return []
        if not listed.get("content"):
            return [] if not answer else [f"answer {status}: the spec has no body here, the emulator sent one"]
        try:
            self._openapi.validate_response(request, MockResponse(answer, status_code=status))
        except Exception as error:  # openapi-core raises a family of validation errors
            return [f"answer {status}: {_reason(error)}"]
        return []


def _reason(error: Exception) -> str:
    causes = [error, *(getattr(error, "schema_errors", None) or [])]
    cause = error.__cause__
    while cause is not None:
        causes.append(cause)
        causes += getattr(cause, "schema_errors", None) or []
        cause = cause.__cause__
    return "; ".join(dict.fromkeys(str(getattr(c, "message", c)).splitlines()[0][:200] for c in causes))
