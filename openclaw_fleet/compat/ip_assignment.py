"""``fly:IPAssignment``: an app's public address as a resource of its own, in stacks made before
the addresses became part of ``fly:App`` (``app.py``).

Such a stack holds two of these a user. The program declares none any more, so the first ``up``
with this code deletes them from the stack while the ``fly:App`` takes the very addresses over
(found by kind in its update, or by a refresh before; not allocated again). Deleting one
therefore leaves the address assigned: it belongs to the app now, and Fly releases it with the
app. The SDK unpickles this provider by its module path from those entries (``refresh``, the
deletes), so the path stays.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import ReadResult

from openclaw_fleet.providers.base import FleetProvider, ResourceArgs


class IPAssignmentState(ResourceArgs):
    """What such an entry holds: the ``app``, the address ``type`` and the ``ip`` Fly assigned."""

    app: str
    type: str
    ip: str | None = None


class IPAssignmentProvider(FleetProvider):
    """Reads an address of a former entry (refresh) and leaves it to the app on delete. Id: the address."""

    args_type = IPAssignmentState

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        assigned = self.fly().list_ip_assignments(props["app"]) or []
        return ReadResult(id_, props) if any(a["ip"] == id_ for a in assigned) else ReadResult(None, {})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Nothing to do: the address is the app's (``fly:App``) and goes with it."""
