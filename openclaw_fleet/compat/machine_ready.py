"""``fly:MachineReady``: the wait for a user's machine as a resource of its own, in stacks made
before ``fly:Machine`` waited itself (``machine.py``).

Such a stack holds one of these a user. The program declares none any more, so the first ``up``
with this code deletes them from the stack, which does nothing to the machine: the ``fly:Machine``
waits in its own create and update now. The SDK unpickles this provider by its module path from
those entries (``refresh``, the deletes), so the path stays.
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import ReadResult

from openclaw_fleet.providers.base import FleetProvider, ResourceArgs


class MachineReadyState(ResourceArgs):
    """What such an entry holds: the ``app``, the ``machine_id`` and the ``status`` it saw."""

    app: str
    machine_id: str
    status: str | None = None


class MachineReadyProvider(FleetProvider):
    """Keeps a former entry as it is on refresh and deletes nothing. Id: ``<machine id>-ready``."""

    args_type = MachineReadyState

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: the entry only waited."""


PROVIDER = MachineReadyProvider()  # what the former entries' ``__provider`` names (base.serialized_provider)
