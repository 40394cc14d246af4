"""``fly:MachineReady``: waits until a user's machine is ready, and fails the run naming the user if not.

Ready means the machine, at its current version (``instance_id``), is ``started`` with every
check passing (Fly's ``GET …/wait`` then the machine's ``checks``), or ``stopped`` when the roster
says so. A wait that runs out (``deadline_exceeded``) is asked again until ``timeout_s``. ``read``
observes the machine, so refresh sees a stopped or failing one, and the next ``up`` waits for it
again (after ``Machine`` repaired it); deleting it does nothing.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from openclaw_fleet.errors import GatewayNotReady
from openclaw_fleet.providers.base import FleetProvider, FleetResource, Input, ResourceArgs

DIFF_FIELDS = ("app", "machine_id", "instance_id", "state")


class MachineReadyArgs(ResourceArgs):
    """Inputs: ``app``, ``machine_id``, ``instance_id`` (the version to wait for), ``state`` (the
    roster's), ``timeout_s`` (seconds) and ``user_id`` (for the error message)."""

    app: Input[str]
    machine_id: Input[str]
    instance_id: Input[str | None]
    state: Literal["running", "stopped"]
    timeout_s: float
    user_id: str


class MachineReadyState(MachineReadyArgs):
    """The inputs and the ``status`` seen: ``started``, ``stopped`` or ``unhealthy``."""

    status: str | None = None


class MachineReadyProvider(FleetProvider):
    """Creating or updating waits; see the module docstring. Id: ``<machine id>-ready``."""

    args_type = MachineReadyArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = MachineReadyArgs.parse(props)
        return CreateResult(
            f"{args.machine_id}-ready", outs=MachineReadyState(**args.props(), status=self._wait(args)).props()
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        args = MachineReadyArgs.parse(news)
        return UpdateResult(outs=MachineReadyState(**args.props(), status=self._wait(args)).props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        target = "started" if news.get("state") == "running" else "stopped"
        changed = any(olds.get(key) != news.get(key) for key in DIFF_FIELDS) or olds.get("status") != target
        return DiffResult(changes=changed, replaces=[])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        fly = self.fly()
        machine = fly.get_machine(props["app"], props["machine_id"])
        if machine is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "status": machine["state"] if checks_pass(machine) else "unhealthy"})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: this resource only waits."""

    def _wait(self, args: MachineReadyArgs) -> str:
        target = "started" if args.state == "running" else "stopped"
        deadline = time.monotonic() + args.timeout_s
        machine: dict = {}
        fly = self.fly()
        while time.monotonic() < deadline:
            version = args.instance_id if target == "started" else None
            fly.wait_machine(
                args.app,
                args.machine_id,
                target,
                version=version,
                timeout_s=max(1, int(deadline - time.monotonic())),
            )
            machine = fly.get_machine(args.app, args.machine_id) or {}
            if machine.get("state") == target and (target == "stopped" or checks_pass(machine)):
                return target
            time.sleep(1)
        checks = ", ".join(f"{c.get('name')}={c.get('status')}" for c in machine.get("checks") or []) or "none"
        raise GatewayNotReady(
            f"machine {args.machine_id} of user {args.user_id} did not become {target} with passing "
            f"checks within {args.timeout_s:g}s (state {machine.get('state')}, checks {checks})"
        )


def checks_pass(machine: dict) -> bool:
    """All of the machine's checks pass (true when it has none)."""
    return all(check.get("status") == "passing" for check in machine.get("checks") or [])


PROVIDER = MachineReadyProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class MachineReady(FleetResource, module="fly", name="MachineReady"):
    """The readiness of a user's machine; ``status`` is what was seen."""

    dynamic_provider, state_type = PROVIDER, MachineReadyState
    status: pulumi.Output[str]
