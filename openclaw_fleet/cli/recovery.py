"""What a killed run leaves in Pulumi's file backend, found and cleared before the next one.

A ``pulumi up`` killed with SIGKILL (a CI job cancelled, a laptop closed) leaves three things:

- its **lock**, ``.pulumi/locks/organization/<project>/<stack>/<id>.json`` with the ``pid`` and
  ``hostname`` of the CLI that took it (``pkg/backend/diy/lock.go``); every later command is
  refused with "the stack is currently locked" until ``pulumi cancel`` deletes it. A lock whose
  process no longer runs on this host is stale and is cleared with ``pulumi cancel``; a lock
  taken on another host, or by a process still running, is left alone and reported.
- **pending operations** in the checkpoint: creates, updates and deletes that were started but
  never answered. The engine only warns about them. The providers here make every create safe to
  repeat (it finds what an earlier try made) and every delete safe on something already gone,
  so they are listed, removed from the checkpoint, and the next ``up`` converges.
- an empty or cut **``<stack>.json.attrs``** beside the checkpoint: the metadata file of the
  storage library the file backend writes through (gocloud.dev ``fileblob``). Unreadable, it makes
  every command fail with ``failed to load checkpoint: EOF``; it holds only the content type, and
  the library reads a missing one as none, so a damaged one is deleted.

On a ``file://`` backend they are found before a stack runs. Other DIY backends (S3, Azure, GCS,
``postgres://``) keep the same lock files as blobs this process cannot list, so there a stale lock
is found when an ``up`` is refused by it (the CLI names each lock's host and pid,
``pkg/backend/diy/lock.go``): ``clear_stale_lock`` clears it and the pending operations, and the
``up`` runs again. Pulumi Cloud leases a run and ends it when the CLI stops renewing.
"""

from __future__ import annotations

import json
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from pulumi import automation as auto


def process_runs(pid: int) -> bool:
    """Whether ``pid`` is a process of this host that has not ended. A zombie (ended, not yet
    reaped: a killed CLI whose parent died too waits for init) has ended."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _backend_dir(backend_url: str | None) -> Path | None:
    if not backend_url or not backend_url.startswith("file://"):
        return None
    return Path(urlparse(backend_url).path or backend_url.removeprefix("file://")).expanduser()


def repair_backend_files(stack_name: str, project: str, backend_url: str | None) -> list[str]:
    """Delete the stack's damaged ``.attrs`` files (before the stack is even selected: selecting
    reads them); return one sentence per file."""
    root = _backend_dir(backend_url)
    if root is None:
        return []
    found = []
    for attrs in sorted((root / ".pulumi" / "stacks" / project).glob(f"{stack_name}.json*.attrs")):
        try:
            json.loads(attrs.read_text() or "!")
        except ValueError:
            attrs.unlink()
            found.append(f"deleted the damaged backend file {attrs.name} (its checkpoint is intact)")
    return found


def clear_killed_run(stack: auto.Stack, project: str, backend_url: str | None) -> list[str]:
    """Clear the lock and pending operations a killed run left; return one sentence per thing done.

    Raises RuntimeError when the stack is locked by a process that still runs on this host, or by
    another host: that lock is not ours to break.
    """
    root = _backend_dir(backend_url)
    if root is None:
        return []
    locks = sorted((root / ".pulumi" / "locks" / "organization" / project / stack.name).glob("*.json"))
    if not locks:
        return []
    for lock in locks:
        try:
            holder = json.loads(lock.read_text())
        except (OSError, ValueError):
            continue  # deleted meanwhile, or cut by the kill: nobody holds it
        pid, host = holder.get("pid"), holder.get("hostname")
        if host != socket.gethostname() or not isinstance(pid, int) or process_runs(pid):
            raise RuntimeError(
                f"stack {stack.name} is locked by process {pid} on {host} since {holder.get('timestamp')}; "
                f"if that run is over, run `bin/fleet pulumi cancel --stack {stack.name}`"
            )
    stack.cancel()
    return [f"cleared the lock of a run that no longer runs ({len(locks)} lock file(s))", *_clear_pending(stack)]


# "<lock URL>: created by <user>@<host> (pid <pid>) at <time>", one line per lock (lock.go).
_LOCK_LINE = re.compile(r": created by [^@\s]*@(?P<host>\S+) \(pid (?P<pid>\d+)\) at ")


def clear_stale_lock(stack: auto.Stack, refusal: str) -> list[str]:
    """When ``refusal`` (a failed CLI run's output) is the DIY backend's "the stack is currently
    locked" and every lock it names was taken by a process of this host that no longer runs, clear
    those locks and the pending operations; return one sentence per thing done ([] when the locks
    are not ours to break, or it is another error)."""
    if "the stack is currently locked" not in refusal:
        return []
    holders = [(match["host"], int(match["pid"])) for match in _LOCK_LINE.finditer(refusal)]
    if not holders or any(host != socket.gethostname() or process_runs(pid) for host, pid in holders):
        return []
    stack.cancel()
    return [f"cleared the lock of a run that no longer runs ({len(holders)} lock(s))", *_clear_pending(stack)]


def _clear_pending(stack: auto.Stack) -> list[str]:
    """Remove the pending operations from the stack's checkpoint; one sentence, or none."""
    found = []
    deployment = stack.export_stack()
    pending = deployment.deployment.get("pending_operations") or []
    if pending:
        described = ", ".join(
            f"{op.get('type')} of {op.get('resource', {}).get('urn', '?').rsplit('::', 1)[-1]}" for op in pending
        )
        deployment.deployment["pending_operations"] = []
        stack.import_stack(deployment)
        found.append(f"removed {len(pending)} pending operation(s) the killed run left: {described}")
    return found
