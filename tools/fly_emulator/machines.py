"""Emulated machines: create, update, start, stop, delete, wait, exec, and leases."""

from __future__ import annotations

import secrets
import time

from tools.fly_emulator.routes import handles
from tools.fly_emulator.state import REGIONS, ApiError, FlyState, Machine, new_id, now_iso

# -- machines ------------------------------------------------------------------------------------


@handles("GET", "/apps/([^/]+)/machines")
def list_machines(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    out = []
    for machine in app["machines"].values():
        state.advance(machine)
        if machine.state != "destroyed":
            out.append(state.machine_json(app, machine))
    return 200, out


@handles("POST", "/apps/([^/]+)/machines")
def create_machine(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    body = body or {}
    region = body.get("region") or "iad"
    if region not in REGIONS:
        raise ApiError(400, f"invalid region {region!r}")
    name = body.get("name") or f"machine-{secrets.token_hex(4)}"
    for other in app["machines"].values():
        state.advance(other)
        if other.name == name and other.state != "destroyed":
            raise ApiError(409, f"machine name {name} is already taken")  # live: 409 on a taken name
    state.validate_config(app, body.get("config"), None, region)
    if (body.get("min_secrets_version") or 0) > app["secrets_version"]:
        raise ApiError(412, "failed_precondition: min_secrets_version is newer than the app's secrets")
    machine = Machine(
        id=secrets.token_hex(7),
        name=name,
        region=region,
        config=body["config"],
        instance_id=new_id(),
        secrets_version=app["secrets_version"],
    )
    _attach(app, machine)
    app["machines"][machine.id] = machine
    if body.get("skip_launch"):
        machine.state = "stopped"
    else:
        state.schedule(machine, (0.1, "starting"), (state.timing.start_s, "started"))
    return 200, state.machine_json(app, machine)


@handles("GET", "/apps/([^/]+)/machines/([^/]+)")
def show_machine(state, app_name, machine_id, *, query, body, headers):
    machine = state.machine(app_name, machine_id)
    if machine.state == "destroyed":
        raise ApiError(404, f"machine not found: {machine_id}")
    return 200, state.machine_json(state.app(app_name), machine)


@handles("POST", "/apps/([^/]+)/machines/([^/]+)")
def update_machine(state, app_name, machine_id, *, query, body, headers):
    app = state.app(app_name)
    machine = _live_machine(state, app_name, machine_id)
    _check_lease(machine, headers)
    body = body or {}
    config = body.get("config")
    state.validate_config(app, config, machine.id, machine.region)
    old_volumes = [m.get("volume") for m in machine.config.get("mounts") or []]
    if [m.get("volume") for m in config.get("mounts") or []] != old_volumes:
        raise ApiError(400, "invalid config.mounts: the volume of an existing machine cannot be changed")
    if body.get("region") not in (None, machine.region):
        raise ApiError(400, "region of an existing machine cannot be changed")
    if (body.get("min_secrets_version") or 0) > app["secrets_version"]:
        raise ApiError(412, "failed_precondition: min_secrets_version is newer than the app's secrets")
    machine.config, machine.instance_id = config, new_id()
    machine.secrets_version = app["secrets_version"]  # live: secrets are read when the machine is updated
    machine.updated_at = now_iso()
    if body.get("skip_launch"):
        if machine.state in ("started", "starting"):
            state.schedule(machine, (0.05, "stopping"), (state.timing.stop_s, "stopped"))
    else:
        machine.state = "replacing"
        state.schedule(
            machine, (0.05, "stopping"), (state.timing.stop_s, "starting"), (state.timing.start_s, "started")
        )
    return 200, state.machine_json(app, machine)


@handles("POST", "/apps/([^/]+)/machines/([^/]+)/start")
def start_machine(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    if machine.state in ("created", "replacing"):
        raise ApiError(412, f"failed_precondition: machine {machine_id} is {machine.state}")  # live
    if machine.state in ("stopped", "suspended"):
        state.schedule(machine, (0.05, "starting"), (state.timing.start_s, "started"))
    return 200, None


@handles("POST", "/apps/([^/]+)/machines/([^/]+)/stop")
def stop_machine(state, app_name, machine_id, *, query, body, headers):
    if body is None:
        raise ApiError(400, "invalid request body: stop wants a JSON object")  # live: {} at least
    machine = _live_machine(state, app_name, machine_id)
    if machine.state in ("started", "starting", "replacing"):
        state.schedule(machine, (0.05, "stopping"), (state.timing.stop_s, "stopped"))
    return 200, None


@handles("DELETE", "/apps/([^/]+)/machines/([^/]+)")
def delete_machine(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    force = (query.get("force") or ["false"])[0] == "true"
    if machine.state in ("started", "starting") and not force:
        raise ApiError(412, f"failed_precondition: machine {machine_id} is {machine.state}; stop it or use force=true")
    machine.state = "destroying"
    state.schedule(machine, (state.timing.destroy_s, "destroyed"))
    return 200, None  # the spec: no body


@handles("GET", "/apps/([^/]+)/machines/([^/]+)/wait")
def wait_machine(state, app_name, machine_id, *, query, body, headers):
    wanted = {s for value in query.get("state") or ["started"] for s in value.split(",")}
    version = (query.get("version") or query.get("instance_id") or [None])[0]
    try:
        timeout = min(int((query.get("timeout") or ["60"])[0]), 60)
    except ValueError:
        raise ApiError(400, "timeout must be a whole number of seconds") from None
    deadline = time.monotonic() + timeout
    machine = state.machine(app_name, machine_id)
    while True:
        state.advance(machine)
        if machine.state in wanted and version in (None, machine.instance_id):
            return 200, {"ok": True, "state": machine.state, "version": machine.instance_id, "event_id": new_id()}
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            # live: a wait that runs out is 408 with a deadline_exceeded error
            raise ApiError(
                408,
                f"deadline_exceeded: machine {machine_id} did not reach {','.join(sorted(wanted))} "
                f"within {timeout}s (state {machine.state})",
            )
        next_change = machine.pending[0][0] - time.monotonic() if machine.pending else remaining
        state.changed.wait(timeout=max(0.01, min(remaining, next_change, 0.25)))


@handles("POST", "/apps/([^/]+)/machines/([^/]+)/exec")
def exec_machine(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    command = (body or {}).get("command") or ((body or {}).get("cmd") or "").split()
    if not command:
        raise ApiError(400, "command is required")
    if machine.state != "started":
        raise ApiError(412, f"failed_precondition: machine {machine_id} is {machine.state}")
    machine.execs.append(command)
    if state.runtime:
        code, output = state.runtime.exec(machine, command)
        return 200, {"exit_code": code, "exit_signal": 0, "stdout": output, "stderr": ""}
    return 200, {"exit_code": 0, "exit_signal": 0, "stdout": "", "stderr": ""}


@handles("GET", "/apps/([^/]+)/machines/([^/]+)/lease")
def show_lease(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    _expire_lease(machine)
    if machine.lease is None:
        raise ApiError(404, "no lease held")
    return 200, {"status": "success", "data": machine.lease}


@handles("POST", "/apps/([^/]+)/machines/([^/]+)/lease")
def create_lease(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    _expire_lease(machine)
    nonce = headers.get("fly-machine-lease-nonce")
    # live: the TTL is read from the query string; the body's ttl (the spec's place) is a fallback
    ttl = int((query.get("ttl") or [None])[0] or (body or {}).get("ttl") or 30)
    if machine.lease and machine.lease["nonce"] != nonce:
        raise ApiError(409, f"machine {machine_id} already has a lease, held until {machine.lease['expires_at']}")
    machine.lease = {
        "nonce": nonce or secrets.token_hex(8),
        "expires_at": int(time.time()) + ttl,
        "owner": "emulator@example.com",
        "description": (body or {}).get("description", ""),
        "version": machine.instance_id,
    }
    return 201, {"status": "success", "data": machine.lease}  # live: wrapped, unlike the spec's bare Lease


@handles("DELETE", "/apps/([^/]+)/machines/([^/]+)/lease")
def release_lease(state, app_name, machine_id, *, query, body, headers):
    machine = _live_machine(state, app_name, machine_id)
    _check_lease(machine, headers)
    machine.lease = None
    return 200, None


def _live_machine(state: FlyState, app_name: str, machine_id: str) -> Machine:
    machine = state.machine(app_name, machine_id)
    if machine.state in ("destroying", "destroyed"):
        raise ApiError(404 if machine.state == "destroyed" else 412, f"machine {machine_id} is {machine.state}")
    return machine


def _expire_lease(machine: Machine) -> None:
    if machine.lease and machine.lease["expires_at"] <= time.time():
        machine.lease = None


def _check_lease(machine: Machine, headers) -> None:
    _expire_lease(machine)
    if machine.lease and headers.get("fly-machine-lease-nonce") != machine.lease["nonce"]:
        raise ApiError(409, f"machine {machine.id} is leased; send its nonce in fly-machine-lease-nonce")


def _attach(app: dict, machine: Machine) -> None:
    for mount in machine.config.get("mounts") or []:
        app["volumes"][mount["volume"]]["attached_machine_id"] = machine.id
