"""What the ``fleet`` command prints on the terminal: a run's report by stack and user, the
``--json`` run documents, and the exit status they make."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from openclaw_fleet.cli.changes import ChangesByUser
from openclaw_fleet.cli.guard import few
from openclaw_fleet.cli.results import Outcome, StackResult


def print_report(out, verb: str, stacks: Sequence[StackResult], by_user: ChangesByUser, limit: int = 200) -> None:
    """Per stack: users, resource changes by op, seconds, error; then one line per user that
    changes or failed (at most ``limit``); then the counts."""
    for result in stacks:
        changes = ", ".join(f"{op} {n}" for op, n in sorted((result.changes or {}).items()) if n) or "not run"
        line = f"{result.stack}: {len(result.users)} users; resources: {changes}; {result.seconds:.1f} s"
        out(line + (f"; FAILED: {result.error}" if result.error else ""))
    users = sorted(set(by_user.changed_users) | set(by_user.failed_users))
    for user in users[:limit]:
        out(f"  {user}: {by_user.users[user].summary()}")
    if len(users) > limit:
        out(f"  … and {len(users) - limit} more users")
    current = {uid for result in stacks for uid in result.users}
    out(f"{verb}: {len(users)} users change, {len(current - set(users))} unchanged, over {len(stacks)} stack(s)")


RUN_SCHEMA_VERSION = 1  # of `--json` for up, rollout and destroy; raised when a field changes meaning


def run_document(
    command: str, stacks: Sequence[StackResult], status: int, **reports: ChangesByUser | str | None
) -> dict:
    """``--json`` of up, rollout and destroy: ``schema``, ``command``, ``status`` (the exit
    status), ``stacks`` (name, users, changes op → count, seconds, error) and each report given
    by name (``plan``, ``applied``: ``ChangesByUser.as_document``), or text (``refusal``)."""
    document = {
        "schema": RUN_SCHEMA_VERSION,
        "command": command,
        "status": status,
        "stacks": [
            {
                "name": result.stack,
                "users": len(result.users),
                "changes": dict(result.changes) if result.changes is not None else None,
                "seconds": round(result.seconds, 1),
                "error": result.error,
            }
            for result in stacks
        ],
    }
    for name, report in reports.items():
        document[name] = report.as_document() if isinstance(report, ChangesByUser) else report
    return document


def print_run_document(command: str, stacks: Sequence[StackResult], status: int, **reports) -> None:
    """``run_document`` on stdout, as JSON."""
    sys.stdout.write(json.dumps(run_document(command, stacks, status, **reports), indent=2) + "\n")


def exit_status(*outcomes: Outcome) -> int:
    """1 when a user or stack failed in any of ``outcomes`` (the users named on stderr), else 0."""
    failed = sorted({user for outcome in outcomes for user in outcome.by_user.failed_users})
    if failed:
        print(f"fleet: {len(failed)} user(s) failed: {few(failed, 100)}", file=sys.stderr)
    errors = any(result.error for outcome in outcomes for result in outcome.stacks)
    return 1 if failed or errors or any(outcome.by_user.stack_errors for outcome in outcomes) else 0
