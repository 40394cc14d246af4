"""What a fleet's stack operations return, immutable: per stack a ``StackResult``; for the fleet a
``Plan`` (previews) or an ``Applied`` (ups, destroys), each with the engine's changes by user
(``changes.ChangesByUser``); and ``Converged``, ``fleet up``'s plan then what it applied.

The scheduler composes them and the commands print them; nothing writes into a result after it
is returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from openclaw_fleet.cli.changes import ChangesByUser


@dataclass(frozen=True)
class StackResult:
    """One stack operation: ``stack`` (its name), ``users`` (the ids it holds now), ``changes``
    (op → resource count from the engine's summary; None when it was not run), ``seconds``
    (wall time), ``error`` (the CLI's last error line, passwords masked; None when it succeeded)."""

    stack: str
    users: tuple[str, ...]
    changes: Mapping[str, int] | None = None
    seconds: float = 0.0
    error: str | None = None

    @property
    def has_changes(self) -> bool:
        """Whether any resource would change or changed (an op other than ``same`` with a count)."""
        return any(op != "same" and count for op, count in (self.changes or {}).items())


@dataclass(frozen=True)
class Outcome:
    """Stack operations over a fleet: ``stacks`` (one result per stack run, in the fleet's order)
    and ``by_user`` (the engine's events of all of them, by user)."""

    stacks: tuple[StackResult, ...]
    by_user: ChangesByUser

    @property
    def failed(self) -> list[str]:
        """``"<stack>: <error>"`` per failed stack, then the ids of users that failed."""
        return [f"{result.stack}: {result.error}" for result in self.stacks if result.error] + self.by_user.failed_users


class Plan(Outcome):
    """What previews say the stacks would do."""


class Applied(Outcome):
    """What ups or destroys did to the stacks."""


@dataclass(frozen=True)
class Converged:
    """``fleet up``'s previews then ups: the ``plan``, what was ``applied``, the stacks sent to
    their up (``updated``) and those whose preview failed (``failed_previews``), by name, and the
    guard's ``refusal`` of the whole plan (None: allowed)."""

    plan: Plan
    applied: Applied
    updated: tuple[str, ...]
    failed_previews: tuple[str, ...]
    refusal: str | None

    def final(self) -> tuple[StackResult, ...]:
        """Per stack, its up's result when it ran one, else its preview's."""
        ups = {result.stack: result for result in self.applied.stacks}
        return tuple(ups.get(result.stack, result) for result in self.plan.stacks)
