"""What a run would do (preview) or did (up), per user, read from the engine's events.

The Automation API hands every engine event of a run to a callback (``on_event``; event shapes:
``pulumi.automation.events``). ``ChangesByUser`` collects them for any number of stacks at once (one
thread per stack) and tells, per user: which resources change and how, which of them would lose
data (a volume or app deleted or replaced), and which failed and why.

A refresh's steps are ``refresh`` and their outcome comes with the resource's outputs event: ``update``
when what the target holds drifted from the state (``Container (drifted)``), ``delete`` when it is
gone and the refresh drops it from the state (``Container (gone)``; a volume or app gone counts as
data lost, so the guard judges a refresh that would drop many users' data as it judges an update).

Resource kinds are the dynamic resources' types (``pulumi-python:dynamic/fly:Volume``).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from pulumi.automation import events

# Resource kinds whose deletion or replacement loses a user's data (the volume) or what holds it
# (a Fly app holds its volumes and their snapshots).
_DATA_KINDS = {
    "pulumi-python:dynamic/fly:Volume": "Fly volume",
    "pulumi-python:dynamic/docker:Volume": "Docker volume",
    "pulumi-python:dynamic/fly:App": "Fly app",
}
_LOSING_OPS = {"delete", "replace", "create-replacement", "delete-replaced"}
QUIET_OPS = {"same", "read", "refresh"}  # steps that change nothing
# The engine's own resources, in no user's gateway and not counted in its summary.
ENGINE_TYPES = ("pulumi:pulumi:Stack", "pulumi:providers:")


@dataclass
class UserChanges:
    """One user's part of a run: ``changes`` (op → resource descriptions), ``data_loss`` (reasons),
    ``errors`` (messages from the engine, first line of each)."""

    changes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    data_loss: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: ``added`` or ``removed`` when the user's gateway component is created or
        deleted with all it holds, else ``<op> <Kind (fields)>, …``; then data loss and the first
        error. (A resource kind the program no longer declares is deleted from every user's
        gateway, which stays: ``delete IPAssignment``, not ``removed``.)"""
        ops = set(self.changes)
        whole = {op for op, kinds in self.changes.items() if any(_is_gateway(kind) for kind in kinds)}
        if ops == whole == {"create"}:
            parts = ["added"]
        elif ops == whole == {"delete"}:
            parts = ["removed"]
        else:
            parts = [f"{op} {', '.join(sorted(set(what)))}" for op, what in sorted(self.changes.items())]
        parts += [f"**loses data: {reason}**" for reason in self.data_loss]
        parts += [f"FAILED: {message}" for message in self.errors[:1]]
        return "; ".join(parts)


def _is_gateway(description: str) -> bool:
    """Whether a change's description (``Kind`` or ``Kind (fields)``) is of a user's gateway component."""
    return description.partition(" (")[0].endswith("Gateway")


class ChangesByUser:
    """Engine events of one or more stack runs, by user.

    ``names`` maps instance names (the gateway components' resource names) to user ids; a component
    whose name is not in it is reported under its name. Thread-safe: ``on_event`` may be called
    from one thread per stack.
    """

    def __init__(self, names: dict[str, str]):
        self._names = dict(names)
        self._lock = threading.Lock()
        self._parents: dict[str, str] = {}
        self._refreshing: set[str] = set()  # URNs whose refresh step began
        self.users: dict[str, UserChanges] = defaultdict(UserChanges)
        self.stack_errors: list[str] = []
        # Changes to resources outside users' gateways (the gateway image): "Kind name" → ops.
        self.others: dict[str, list[str]] = defaultdict(list)

    def _user_of(self, urn: str, parent: str | None) -> str | None:
        """The user a resource belongs to: its own gateway component's, or its parent's; None for
        resources outside users' gateways (the image, the stack)."""
        if "Gateway::" not in urn:  # else the gateway component itself (a child's URN has `Gateway$`)
            urn = parent if parent and "Gateway::" in parent else self._parents.get(urn, urn)
        if "Gateway::" not in urn:
            return None
        name = urn.rsplit("::", 1)[-1]
        return self._names.get(name, name)

    def on_event(self, event: events.EngineEvent) -> None:
        """The Automation API's ``on_event`` callback."""
        with self._lock:
            if event.resource_pre_event:
                self._step(event.resource_pre_event.metadata)
            elif event.res_outputs_event and event.res_outputs_event.metadata.urn in self._refreshing:
                self._refreshed(event.res_outputs_event.metadata)
            elif event.res_op_failed_event:
                meta = event.res_op_failed_event.metadata
                state = meta.new or meta.old
                user = self._user_of(meta.urn, state.parent if state else None)
                if user and not self.users[user].errors:
                    self.users[user].errors.append(
                        f"{getattr(meta.op, 'value', meta.op)} of {meta.urn.rsplit('::', 1)[-1]} failed"
                    )
            elif event.diagnostic_event and event.diagnostic_event.severity == "error":
                diagnostic = event.diagnostic_event
                message = " ".join(diagnostic.message.split())[:400]
                user = self._user_of(diagnostic.urn, None) if diagnostic.urn else None
                if user:
                    self.users[user].errors.insert(0, message)
                else:
                    self.stack_errors.append(message)

    def _step(self, meta: events.StepEventMetadata) -> None:
        op = getattr(meta.op, "value", meta.op)
        state = meta.new or meta.old
        parent = state.parent if state else None
        if parent:
            self._parents[meta.urn] = parent
        if op == "refresh":
            self._refreshing.add(meta.urn)
        if op in QUIET_OPS:
            return
        user = self._user_of(meta.urn, parent)
        what = meta.type.rsplit(":", 1)[-1]
        because = f" ({', '.join(meta.keys or meta.diffs or [])})" if (meta.keys or meta.diffs) else ""
        kind = _DATA_KINDS.get(meta.type)
        old_kept = bool(meta.old and meta.old.retain_on_delete)
        losing = kind and op in _LOSING_OPS and (op != "delete" or not old_kept)
        reason = f"{kind} {'deleted' if op == 'delete' else 'replaced'}{because}" if losing else None
        self._record(user, meta, op, what, reason, because)

    def _refreshed(self, meta: events.StepEventMetadata) -> None:
        """A refresh step's outcome: drift (``update``) or a resource gone (``delete``)."""
        op = getattr(meta.op, "value", meta.op)
        if op not in ("update", "delete"):
            return
        state = meta.old or meta.new
        user = self._user_of(meta.urn, state.parent if state else None)
        what = f"{meta.type.rsplit(':', 1)[-1]} ({'gone' if op == 'delete' else 'drifted'})"
        kind = _DATA_KINDS.get(meta.type)
        reason = f"{kind} gone: the refresh drops it from the state" if kind and op == "delete" else None
        self._record(user, meta, op, what, reason)

    def _record(
        self,
        user: str | None,
        meta: events.StepEventMetadata,
        op: str,
        what: str,
        data_loss: str | None,
        because: str = "",
    ) -> None:
        """``op`` of ``what`` (``because``: the fields, `` (a, b)``) for ``user``, with why it loses
        data if it does; for no user, among the changes outside users' gateways (``Kind name
        (fields)``; the engine's own resources left out)."""
        if user is None:
            if not meta.type.startswith(ENGINE_TYPES):
                self.others[f"{what} {meta.urn.rsplit('::', 1)[-1]}{because}"].append(op)
            return
        report = self.users[user]
        report.changes[op].append(what + because)
        if data_loss and data_loss not in report.data_loss:
            report.data_loss.append(data_loss)

    def as_document(self) -> dict:
        """The report as JSON-ready data: ``users`` (user → ``changes`` op → resource
        descriptions, ``data_loss``, ``errors``), ``others`` (changes outside users' gateways),
        ``stack_errors``, ``failed`` (user ids)."""
        with self._lock:
            users = {
                user: {"changes": dict(report.changes), "data_loss": report.data_loss, "errors": report.errors}
                for user, report in sorted(self.users.items())
                if report.changes or report.errors
            }
            return {
                "users": users,
                "others": dict(self.others),
                "stack_errors": list(self.stack_errors),
                "failed": self.failed_users,
            }

    @property
    def changed_users(self) -> list[str]:
        return sorted(user for user, report in self.users.items() if report.changes)

    @property
    def users_losing_data(self) -> list[str]:
        return sorted(user for user, report in self.users.items() if report.data_loss)

    @property
    def failed_users(self) -> list[str]:
        return sorted(user for user, report in self.users.items() if report.errors)
