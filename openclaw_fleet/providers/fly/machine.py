"""``fly:Machine``: a user's gateway machine (``/apps/{app_name}/machines``).

Create launches the machine, update changes it in place under a lease (``POST …/machines/{id}``;
Fly: https://fly.io/docs/machines/api/machines-resource/#update-a-machine and the lease
endpoints), and both then wait until it is ready: at its current version (``instance_id``)
``started`` with every check passing (Fly's ``GET …/wait``, then the machine's ``checks``), or
``stopped`` when the roster says so; a wait that runs out (``deadline_exceeded``) is asked again
until ``health_timeout_s``. A machine that does not come up raises ``ResourceInitFailed`` with its
id and outputs: the engine records it with the failure (Pulumi's "initialization failed"), the run
fails naming the user, and the next ``up`` updates that machine and waits again rather than
launching another. (The SDK's own provider server cannot report that; there the next create finds
the machine by its name and brings it to the declared config.) Only what Fly cannot change in
place replaces the machine: app, name, region and the volume mount. ``read`` says a machine is
gone only on 404 (or ``destroyed``), never on a transient error, so refresh never forgets a live
machine.

Files in the ``config`` input are written as ``{"guest_path", "mode", "text"}`` so that preview
shows a changed file as readable text; the client sends them as the API's base64 ``raw_value``.

The outputs do not repeat the config (the engine keeps it among the inputs, and Fly has it): create
and update store its SHA-256 (``config_digest``) and nothing else of it, as the provider server hands
the old inputs back with the old outputs. ``read`` (refresh) stores what it found: the digest of the
live machine's config over the declared top-level keys (``config_keys``) and its ``mounts`` (a
changed mount replaces the machine), which the version before needs to read a refreshed state
(docs/upgrading.md, "Going back"). Outputs in the shapes of earlier versions are read through
``compat/machine_state.py``.

Adoption (``adopt``): create takes over the machine named ``name`` or, failing that, the app's only
live machine (machines made by hand have generated names) and brings its config to the declared
one, in place under a lease.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any, Literal

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.output import Unknown

from openclaw_fleet.compat import machine_state
from openclaw_fleet.errors import GatewayNotReady, ResourceInitFailed
from openclaw_fleet.providers.base import FleetProvider, FleetResource, Input, ResourceArgs
from openclaw_fleet.providers.fly.client import FlyClient, whole_numbers

LEASE_TTL_S = 60
LEASE_DESCRIPTION = "openclaw-fleet update"
REPLACE_FIELDS = ("app", "name", "region")
# Fly answers a launch, update or start with the state the machine passes through; what it is
# heading to is what stays true (the wait then checks it got there).
HEADING_TO = {"starting": "started", "stopping": "stopped", "destroying": "destroyed"}
IN_PROGRESS = ("created", "replacing", "updating")


class MachineArgs(ResourceArgs):
    """Inputs: ``app``, ``name``, ``region``, ``config`` (a fly.MachineConfig, files as text),
    ``min_secrets_version`` (the app secrets version it must see), ``state`` (the roster's
    ``running``/``stopped``), ``adopt``, ``health_timeout_s`` (seconds to wait for it to be ready)
    and ``user_id`` (named when it is not)."""

    app: Input[str]
    name: str
    region: str
    config: Input[dict[str, Any]]
    min_secrets_version: Input[int]
    state: Literal["running", "stopped"] = "running"
    adopt: bool = False
    health_timeout_s: float = 60
    user_id: str | None = None


class MachineState(ResourceArgs):
    """The inputs less ``config`` (``config_digest`` in its place; after ``read`` also
    ``config_keys`` and the live ``mounts``), the current ``instance_id`` (version), ``status`` and
    ``private_ip``.

    ``status`` is the state Fly reported, a transitional one (``starting``, ``created``…) recorded
    as the state it leads to, so that the next run does not mistake it for drift; ``refresh``
    records what it sees, ``unhealthy`` for a started machine with a failing check."""

    app: str
    name: str
    region: str
    min_secrets_version: int
    state: Literal["running", "stopped"] = "running"
    adopt: bool = False
    health_timeout_s: float = 60
    user_id: str | None = None
    config_digest: str
    instance_id: str | None = None
    status: str | None = None
    private_ip: str | None = None


class MachineProvider(FleetProvider):
    """Launches (or finds), updates under a lease, starts/stops, waits until ready, reads and
    destroys. Id: the machine id."""

    args_type = MachineArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = MachineArgs.parse(props)
        request = {
            "name": args.name,
            "region": args.region,
            "config": encode_files(args.config),
            "min_secrets_version": args.min_secrets_version,
            "skip_launch": args.state == "stopped",
        }
        fly = self.fly()
        found: list[dict] = []

        def find() -> dict | None:
            machine = _find(fly, args)
            if machine:
                found.append(machine)
            return machine

        machine = fly.find_or_create(find, lambda: fly.launch_machine(args.app, request), wait_out=frozenset({409}))
        taken_over = args.adopt and machine.get("config") != request["config"]
        if taken_over or found:  # adopted, or an earlier run's machine: the declared config and run state
            changed = taken_over or _live_config_differs(machine, args.config)
            machine = _converge(fly, machine["id"], args, config_changed=changed)
        return CreateResult(machine["id"], outs=_ready_state(fly, args, machine))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_FIELDS if olds.get(key) != news.get(key)]
        new_config = news.get("config") or {}
        # In preview the config is unknown while the image or volume it names is being made: that is
        # a change; whether it replaces (a new volume) is decided by the update's own diff.
        unknown = isinstance(new_config, Unknown) or _has_unknowns(new_config)
        if not isinstance(new_config, Unknown) and _old_mounts(olds) != new_config.get("mounts"):
            replaces.append("config")
        changed = (
            unknown
            or _config_changed(olds, new_config)
            or olds.get("min_secrets_version") != news.get("min_secrets_version")
            or olds.get("state") != news.get("state")
            or _drifted(olds.get("status"), news.get("state"))
        )
        return DiffResult(changes=bool(replaces) or changed, replaces=replaces, delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        args = MachineArgs.parse(news)
        changed = _config_changed(olds, args.config) or olds.get("min_secrets_version") != args.min_secrets_version
        fly = self.fly()
        return UpdateResult(outs=_ready_state(fly, args, _converge(fly, id_, args, config_changed=changed)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        fly = self.fly()
        machine = fly.get_machine(props["app"], id_)
        if machine is None or machine.get("state") == "destroyed":
            return ReadResult(None, {})
        live = decode_files(machine.get("config") or {})
        keys = props.get("config_keys") or list(props.get("config") or {})
        config = {key: live.get(key) for key in keys}
        outputs = {key: value for key, value in props.items() if key != "config"}
        observed = _observed(machine)
        if observed["status"] == "started" and not checks_pass(machine):
            observed["status"] = "unhealthy"
        return ReadResult(
            id_,
            {
                **outputs,
                **observed,
                "config_digest": config_digest(config),
                "config_keys": sorted(keys),
                "mounts": config.get("mounts"),
                "region": machine.get("region"),
            },
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        fly = self.fly()
        fly.destroy_machine(props["app"], id_)


def _converge(fly: FlyClient, machine_id: str, args: MachineArgs, config_changed: bool) -> dict:
    """Bring the machine to ``args``: its config (under a lease) when it changed, then its run state."""
    if config_changed:
        request = {
            "config": encode_files(args.config),
            "region": args.region,
            "min_secrets_version": args.min_secrets_version,
            "skip_launch": args.state == "stopped",
        }
        with fly.lease(args.app, machine_id, LEASE_TTL_S, LEASE_DESCRIPTION) as nonce:
            machine = fly.update_machine(args.app, machine_id, request, nonce)
    else:
        machine = fly.get_machine(args.app, machine_id) or {}
    if args.state == "running" and machine.get("state") in ("stopped", "created", "suspended"):
        fly.start_machine(args.app, machine_id)
        machine = fly.get_machine(args.app, machine_id) or {}
    elif args.state == "stopped" and machine.get("state") in ("started", "starting"):
        fly.stop_machine(args.app, machine_id)
        machine = fly.get_machine(args.app, machine_id) or {}
    return machine


def _ready_state(fly: FlyClient, args: MachineArgs, machine: dict) -> dict[str, Any]:
    """The state after waiting until the machine is ready. Raises ResourceInitFailed (with that
    state, the status seen) when it is not within ``args.health_timeout_s``."""
    target = "started" if args.state == "running" else "stopped"
    deadline = time.monotonic() + args.health_timeout_s
    while True:
        version = machine.get("instance_id") if target == "started" else None
        fly.wait_machine(
            args.app, machine["id"], target, version=version, timeout_s=max(1, int(deadline - time.monotonic()))
        )
        machine = fly.get_machine(args.app, machine["id"]) or machine
        if machine.get("state") == target and (target == "stopped" or checks_pass(machine)):
            return _state(args, machine)
        if time.monotonic() >= deadline:
            break
        time.sleep(1)
    checks = ", ".join(f"{c.get('name')}={c.get('status')}" for c in machine.get("checks") or []) or "none"
    not_ready = GatewayNotReady(
        f"machine {machine['id']} of user {args.user_id or args.name} did not become {target} with passing "
        f"checks within {args.health_timeout_s:g}s (state {machine.get('state')}, checks {checks})"
    )
    state = _state(args, machine)
    if machine.get("state") == "started":
        state["status"] = "unhealthy"  # started, a check failing: the next run's diff sees it too
    raise ResourceInitFailed(machine["id"], state, not_ready)


def checks_pass(machine: dict) -> bool:
    """All of the machine's checks pass (true when it has none)."""
    return all(check.get("status") == "passing" for check in machine.get("checks") or [])


def _live_config_differs(machine: dict, config: dict[str, Any]) -> bool:
    """The machine's config, in the keys ``config`` declares, is not ``config`` (as refresh compares)."""
    live = decode_files(machine.get("config") or {})
    return config_digest({key: live.get(key) for key in config}) != config_digest(config)


def _find(fly: FlyClient, args: MachineArgs) -> dict | None:
    """The machine named ``args.name``; with ``adopt``, else the app's only live machine."""
    machines = fly.list_machines(args.app) or []
    named = next((machine for machine in machines if machine.get("name") == args.name), None)
    return named or (machines[0] if args.adopt and len(machines) == 1 else None)


def config_digest(config: dict[str, Any]) -> str:
    """SHA-256 (hex) of a machine config as JSON with sorted keys, whole numbers written as
    integers: equal configs, equal digests, whether a number came from the engine (every number
    crosses its gRPC interface as a double: ``384.0``) or from the Machines API (``384``)."""
    return _digest(whole_numbers(config))


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _config_changed(olds: dict[str, Any], new_config: dict[str, Any]) -> bool:
    """Whether ``new_config`` differs from the config the state records (in any shape a version
    wrote: ``compat/machine_state.py``; upgrading must not update every machine)."""
    recorded = machine_state.upgraded(olds, config_digest)["config_digest"]
    return recorded not in (config_digest(new_config), machine_state.engine_number_digest(new_config))


def _old_mounts(olds: dict[str, Any]) -> Any:
    """The mounts ``olds`` record: those a refresh found, else those of the config last applied."""
    return olds["mounts"] if "mounts" in olds else (olds.get("config") or {}).get("mounts")


def _has_unknowns(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknowns(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_unknowns(item) for item in value)
    return False


def _drifted(observed: str | None, wanted: str | None) -> bool:
    """The machine was found (by refresh, or by a wait that ran out) in a run state other than the
    roster's, or started with a failing check."""
    return (wanted == "running" and observed in ("stopped", "suspended", "created", "unhealthy")) or (
        wanted == "stopped" and observed == "started"
    )


def _observed(machine: dict[str, Any]) -> dict[str, Any]:
    return {
        "instance_id": machine.get("instance_id"),
        "status": machine.get("state"),
        "private_ip": machine.get("private_ip"),
    }


def _state(args: MachineArgs, machine: dict[str, Any]) -> dict[str, Any]:
    observed = _observed(machine)
    state = observed["status"]
    if state in IN_PROGRESS:
        state = "started" if args.state == "running" else "stopped"
    inputs = {key: value for key, value in args.props().items() if key != "config"}
    return MachineState(
        **inputs,
        config_digest=config_digest(args.config),
        **{**observed, "status": HEADING_TO.get(state, state)},
    ).props()


PROVIDER = MachineProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class Machine(FleetResource, module="fly", name="Machine"):
    """A Fly machine running a user's gateway."""

    dynamic_provider, state_type = PROVIDER, MachineState
    delete_before_replace = True  # a replacement takes over the volume of the machine it replaces
    instance_id: pulumi.Output[str]
    status: pulumi.Output[str]


def encode_files(config: dict[str, Any]) -> dict[str, Any]:
    """fly.MachineConfig as the API takes it: each file's ``text`` becomes base64 ``raw_value``."""
    if "files" not in config:
        return dict(config)
    files = [
        {**{k: v for k, v in f.items() if k != "text"}, "raw_value": base64.b64encode(f["text"].encode()).decode()}
        if "text" in f
        else f
        for f in config["files"] or []
    ]
    return {**config, "files": files}


def decode_files(config: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``encode_files``, for reading a machine back."""
    if "files" not in config:
        return dict(config)
    files = [
        {**{k: v for k, v in f.items() if k != "raw_value"}, "text": base64.b64decode(f["raw_value"]).decode()}
        if f.get("raw_value")
        else f
        for f in config["files"] or []
    ]
    return {**config, "files": files}
