"""An app's public IP (``/apps/{app_name}/ip_assignments``): a shared IPv4 or a dedicated IPv6.

Seed 000 allocates both so ``<app>.fly.dev`` resolves. Allocation is not idempotent, so create
first looks for an address of the wanted kind (one an interrupted earlier create may have made);
IP allocation can answer 409 while another allocation for the app is in flight (live API), which
is retried. Released on delete.
"""

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource

from components.fly.client import FlyProvider, find_or_create

KINDS = ("shared_v4", "v6")


def _kind(assignment: dict) -> str:
    return "v6" if ":" in assignment["ip"] else ("shared_v4" if assignment.get("shared") else "v4")


class IPAssignmentProvider(FlyProvider):
    """Inputs: ``app``, ``type`` (``shared_v4`` | ``v6``). Outputs: the inputs and ``ip``. Id: the ip."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        path = f"/apps/{props['app']}/ip_assignments"
        with self.fly() as fly:
            made = find_or_create(
                lambda: next((a for a in fly.call("GET", path).get("ips") or [] if _kind(a) == props["type"]), None),
                lambda: fly.call("POST", path, json={"type": props["type"]}), retry_status=frozenset({409}))
        return CreateResult(made["ip"], outs={**props, "ip": made["ip"]})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in ("app", "type") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.fly() as fly:
            listing = fly.call("GET", f"/apps/{props['app']}/ip_assignments", ok_404=True)
        if not listing or not any(a["ip"] == id_ for a in listing.get("ips") or []):
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.fly() as fly:
            fly.call("DELETE", f"/apps/{props['app']}/ip_assignments/{id_}", ok_404=True)


class IPAssignment(Resource, module="fly", name="IPAssignment"):
    """A ``shared_v4`` or ``v6`` address of ``app``."""

    ip: pulumi.Output[str]

    def __init__(self, resource_name: str, app: pulumi.Input[str], type_: str,
                 opts: pulumi.ResourceOptions | None = None):
        if type_ not in KINDS:
            raise ValueError(f"IP type must be one of {KINDS}")
        super().__init__(IPAssignmentProvider(), resource_name, {"app": app, "type": type_, "ip": None}, opts)
