"""The Python dependencies of every job that holds a credential are hash-locked: requirements.lock
pins each package requirements.txt names at the same version, and every package it pins carries
its hashes; bin/setup and the workflows install from it with ``--require-hashes``."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(text: str) -> dict[str, str]:
    return {name.lower(): version for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)}


def test_the_lock_pins_every_requirement_at_its_version_with_hashes():
    wanted = pins((ROOT / "requirements.txt").read_text())
    lock = (ROOT / "requirements.lock").read_text()
    locked = pins(lock)
    differ = {name: (version, locked.get(name)) for name, version in wanted.items() if locked.get(name) != version}
    assert not differ, f"requirements.lock is stale (regenerate it as requirements.txt says): {differ}"
    entries = [entry for entry in re.split(r"\n(?=[A-Za-z0-9_.-]+==)", lock) if re.match(r"[A-Za-z0-9_.-]+==", entry)]
    unhashed = [entry.split()[0] for entry in entries if "--hash=sha256:" not in entry]
    assert not unhashed and len(entries) == len(locked)


def test_everything_that_installs_them_requires_the_hashes():
    setup = (ROOT / "bin" / "setup").read_text()
    assert '--require-hashes -r "$root/requirements.lock"' in setup
    for workflow in (ROOT / ".github" / "workflows").glob("*.yml"):
        text = workflow.read_text()
        assert "-r requirements.txt" not in text, workflow.name
        assert text.count("pip install") == text.count("pip install --quiet --require-hashes -r requirements.lock")
