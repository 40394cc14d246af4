"""``fleet up`` killed (SIGKILL, the whole process group: the command, the Pulumi CLI, the language
host, the provider) at five moments chosen from the emulator's call log; each time one plain
``fleet up`` afterwards clears what the killed run left (its lock, pending operations; once also
an emptied ``<stack>.json.attrs``), says so, and converges with no orphaned and no duplicated
app, volume or machine.

Moments: right after the 2nd app create (first up), the 1st volume create (users added), the 2nd
machine create (users added), a machine lease taken for an update (model changed: the next run
waits the lease's TTL out), the 1st machine destroy (users removed).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from openclaw_fleet.cli.recovery import process_runs
from openclaw_fleet.roster import instance_name
from tests.integration.fleet import Fleet, fleet_command
from tools.fly_emulator import Emulator

pytestmark = pytest.mark.integration

USERS = [f"user_2kill{index:08d}" for index in range(12)]


def roster(users, model: str = "anthropic/claude-sonnet-4-5") -> dict:
    return {"defaults": {"model": model}, "users": [{"id": uid, "name": uid[-4:], "region": "ord"} for uid in users]}


@pytest.fixture(scope="module")
def fleet(tmp_path_factory, emulator):
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("kill"), emulator)
    yield fleet
    fleet.fleet("destroy", "--yes")


def up_killed_when(fleet: Fleet, emulator: Emulator, method: str, path: str, count: int) -> int:
    """Start ``fleet up``; SIGKILL its process group once the emulator has answered ``count``
    calls matching ``method`` and the ``path`` pattern. Returns how many matched when it was killed."""
    mark, pattern = len(emulator.calls), re.compile(path)

    def matched() -> int:
        return sum(1 for c in emulator.calls[mark:] if c["method"] == method and pattern.fullmatch(c["path"]))

    process = subprocess.Popen(
        fleet_command(fleet.stack, "up"),
        cwd=fleet.dir,
        env=fleet.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    killed = threading.Event()

    def watch() -> None:
        while process.poll() is None:
            if matched() >= count:
                os.killpg(process.pid, signal.SIGKILL)
                killed.set()
                return
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    process.wait(timeout=900)
    watcher.join()
    assert killed.is_set(), f"fleet up ended before {count} × {method} {path}"
    time.sleep(1)  # what was in flight at the kill lands in the emulator
    return matched()


def converge_and_count(fleet: Fleet, emulator: Emulator, users: list[str]) -> tuple[str, list[str], list[str]]:
    """One ``fleet up``; then (its output, orphans, duplicates) among this stack's Fly objects."""
    result = fleet.fleet("up")
    assert result.returncode == 0, result.stdout + result.stderr
    expected = {instance_name(fleet.prefix, uid) for uid in users}
    apps = {name: app for name, app in emulator.state.apps.items() if name.startswith(fleet.prefix + "-")}
    orphans = sorted(set(apps) - expected)
    duplicates = []
    for name in sorted(expected):
        app = apps.get(name)
        assert app is not None, f"{name} missing after convergence"
        live = [m for m in app["machines"].values() if m.state not in ("destroying", "destroyed")]
        assert [m.state for m in live] in ([], ["started"]), name
        if len(live) != 1 or len(app["volumes"]) != 1:
            duplicates.append(f"{name}: {len(live)} machines, {len(app['volumes'])} volumes")
    return result.stdout, orphans, duplicates


MOMENTS = [
    ("2nd app create", USERS[:6], "anthropic/claude-sonnet-4-5", "POST", r"/v1/apps", 2),
    ("1st volume create", USERS[:9], "anthropic/claude-sonnet-4-5", "POST", r"/v1/apps/[^/]+/volumes", 1),
    ("2nd machine create", USERS[:12], "anthropic/claude-sonnet-4-5", "POST", r"/v1/apps/[^/]+/machines", 2),
    (
        "a lease for an update",
        USERS[:12],
        "anthropic/claude-opus-4-1",
        "POST",
        r"/v1/apps/[^/]+/machines/[^/]+/lease",
        1,
    ),
    ("1st machine destroy", USERS[:10], "anthropic/claude-opus-4-1", "DELETE", r"/v1/apps/[^/]+/machines/[^/]+", 1),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=[moment[0] for moment in MOMENTS])
def test_a_killed_up_is_recovered_by_the_next(fleet, emulator, moment):
    _, users, model, method, path, count = moment
    fleet.write_roster(roster(users, model))
    up_killed_when(fleet, emulator, method, path, count)
    attrs = fleet.state_file().with_name(fleet.state_file().name + ".attrs")
    if moment is MOMENTS[0]:
        attrs.write_text("")  # as 2 of 25 kills left it: every pulumi command then fails with EOF
    output, orphans, duplicates = converge_and_count(fleet, emulator, users)
    assert "cleared the lock of a run that no longer runs" in output
    if moment is MOMENTS[0]:  # (a kill itself sometimes leaves it so: it is cleared the same way)
        assert "deleted the damaged backend file" in output
    assert orphans == [] and duplicates == []
    assert "0 users change" in fleet.fleet("preview").stdout


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def test_the_plugins_of_a_killed_cli_end_with_it(fleet, emulator):
    fleet.write_roster(roster(USERS[:10], "anthropic/claude-sonnet-4-5"))
    mark = len(emulator.calls)
    cli = subprocess.Popen(
        ["pulumi", "up", "--yes", "--skip-preview", "--stack", fleet.stack, "--non-interactive"],
        cwd=fleet.dir,
        env={**fleet.env, "OPENCLAW_FLEET_ALLOW_MASS_DELETION": "1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    # Mid-run: a machine being created (a fresh stack) or leased for an update (after the tests above).
    while not any(c["path"].endswith(("/lease", "/machines")) for c in emulator.calls[mark:]):
        assert cli.poll() is None and time.monotonic() < deadline, "the run ended before touching a machine"
        time.sleep(0.01)
    plugins = descendants(cli.pid)
    assert len(plugins) >= 3  # the language host, the program, the provider
    cli.kill()  # the CLI alone, as when a terminal or a CI runner loses it
    cli.wait()
    deadline = time.monotonic() + 30
    while any(process_runs(pid) for pid in plugins) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in plugins if process_runs(pid)] == []
    output, orphans, duplicates = converge_and_count(fleet, emulator, USERS[:10])
    assert "cleared the lock of a run that no longer runs" in output
    assert orphans == [] and duplicates == []
