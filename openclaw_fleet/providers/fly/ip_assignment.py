"""``fly:IPAssignment``: an app's public address (``/apps/{app_name}/ip_assignments``).

Each user's app gets a shared IPv4 and an IPv6 so that ``<app>.fly.dev`` resolves (Fly:
https://fly.io/docs/networking/services/#ip-addresses). Allocation is not idempotent, so create
first looks for an address of the wanted kind (one an interrupted earlier create may have made);
allocation can answer 409 while another one for the app is in flight (live API), which is
waited out. Released on delete.
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult

from openclaw_fleet.providers.base import FleetProvider, FleetResource, Input, ResourceArgs

REPLACE_FIELDS = ("app", "type")


def ip_kind(assignment: dict) -> str:
    """``v6``, ``shared_v4`` or ``v4`` for an ``IPAssignment`` object of the API."""
    return "v6" if ":" in assignment["ip"] else ("shared_v4" if assignment.get("shared") else "v4")


class IPAssignmentArgs(ResourceArgs):
    """Inputs: the ``app`` and the address ``type`` (``shared_v4`` or ``v6``)."""

    app: Input[str]
    type: Literal["shared_v4", "v6"]


class IPAssignmentState(IPAssignmentArgs):
    """The inputs and the ``ip`` Fly assigned."""

    ip: str | None = None


class IPAssignmentProvider(FleetProvider):
    """Assigns, reads and releases an address; any input change replaces it. Id: the address."""

    args_type = IPAssignmentArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = IPAssignmentArgs.parse(props)
        fly = self.fly()
        made = fly.find_or_create(
            lambda: next((a for a in fly.list_ip_assignments(args.app) or [] if ip_kind(a) == args.type), None),
            lambda: fly.assign_ip(args.app, args.type),
            wait_out=frozenset({409}),
        )
        return CreateResult(made["ip"], outs=IPAssignmentState(**args.props(), ip=made["ip"]).props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in REPLACE_FIELDS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        fly = self.fly()
        assigned = fly.list_ip_assignments(props["app"]) or []
        return ReadResult(id_, props) if any(a["ip"] == id_ for a in assigned) else ReadResult(None, {})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        fly = self.fly()
        fly.release_ip(props["app"], id_)


class IPAssignment(FleetResource, module="fly", name="IPAssignment"):
    """A ``shared_v4`` or ``v6`` address of an app."""

    provider_type, state_type = IPAssignmentProvider, IPAssignmentState
    ip: pulumi.Output[str]
