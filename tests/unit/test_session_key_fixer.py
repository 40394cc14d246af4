"""The session-key fixer (image/fix-session-keys.mjs), run with Node on a real state dir."""

import json
import subprocess
import time
from pathlib import Path

FIXER = Path(__file__).resolve().parents[2] / "image" / "fix-session-keys.mjs"


def test_short_keys_become_canonical_and_nothing_else_changes(tmp_path):
    sessions = tmp_path / "agents" / "main" / "sessions" / "sessions.json"
    sessions.parent.mkdir(parents=True)
    sessions.write_text(
        json.dumps(
            {
                "main": {"sessionId": "s1"},  # the bug: stored under the short key
                "agent:main:work": {"sessionId": "s2"},  # already canonical
                "draft": {"note": "no sessionId"},  # not session data: left alone
                "research": {"sessionId": "s3"},
                "agent:main:research": {"sessionId": "s4"},  # never overwrite
            }
        )
    )
    fixer = subprocess.Popen(["node", str(FIXER), str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 10
        while "agent:main:main" not in sessions.read_text():
            assert time.monotonic() < deadline, "the fixer did not run within 10 s"
            time.sleep(0.2)
    finally:
        fixer.terminate()
    assert json.loads(sessions.read_text()) == {
        "agent:main:main": {"sessionId": "s1"},
        "agent:main:work": {"sessionId": "s2"},
        "draft": {"note": "no sessionId"},
        "research": {"sessionId": "s3"},
        "agent:main:research": {"sessionId": "s4"},
    }
