"""A user's gateway machine (``/apps/{app_name}/machines``) and the wait for it to be ready.

``Machine``: create is ``POST …/machines`` with seed 000's config and returns as soon as Fly has
assigned an id, so the id is in state before anything waits on the machine. Updates go through
``POST …/machines/{id}`` in place under a lease (``POST …/lease?ttl=…``, nonce in the
``fly-machine-lease-nonce`` header, released afterwards). Only what Fly cannot change in place
replaces the machine: app, name, region and the volume mount. ``read`` says a machine is gone only
on 404 (or ``destroyed``), never on a transient error, so refresh never forgets a live machine.

Files in the ``config`` input are written as ``{"guest_path", "mode", "text"}`` so that preview
shows a changed file as readable text; the provider sends them as the API's base64 ``raw_value``
and decodes them again on read.

Adoption (``adopt``): create takes over the machine named ``name`` or, failing that, the app's only
live machine (seed 000's machines have generated names); the next update brings its config to
the declared one, in place under a lease.

``MachineReady``: waits (``GET …/wait?state=…&version=<instance id>``; a wait timeout is
``deadline_exceeded``, live API) until the machine version is ``started`` and its checks pass, or
``stopped`` when the roster says so; fails the run naming the user otherwise.

Live-API behaviours the spec does not state: machine create answers 409 when the name is taken
(an interrupted earlier create: the machine is taken over); ``/start`` answers 412
``failed_precondition`` while the machine is ``created`` or being replaced (retried); ``/stop``
wants a JSON body; the lease TTL is a query parameter and the lease response is wrapped in
``{"status": "success", "data": {…}}`` (both shapes are accepted).
"""

import base64
import contextlib
import time
from collections.abc import Iterator
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult
from pulumi.output import Unknown

from components.fly.client import FlyClient, FlyConnectionLost, FlyError, FlyProvider, find_or_create

LEASE_TTL_S = 60
LEASE_DESCRIPTION = "openclaw-fleet update"
REPLACE_KEYS = ("app", "name", "region")


class MachineProvider(FlyProvider):
    """Inputs: ``app``, ``name``, ``region``, ``config`` (fly.MachineConfig), ``min_secrets_version``,
    ``state`` (running/stopped). Outputs: the inputs, ``instance_id``, ``status``, ``private_ip``.
    Id: the machine id."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        path = f"/apps/{props['app']}/machines"
        body = {"name": props["name"], "region": props["region"], "config": to_api_config(props["config"]),
                "min_secrets_version": props["min_secrets_version"], "skip_launch": props["state"] == "stopped"}
        with self.fly() as fly:
            machine = find_or_create(lambda: _find_by_name(fly, props["app"], props["name"], props.get("adopt")),
                                     lambda: fly.call("POST", path, json=body), retry_status=frozenset({409}))
        if props.get("adopt") and machine.get("config") != to_api_config(props["config"]):
            # Taken over: bring it to the declared config now, in place under a lease.
            return CreateResult(machine["id"], outs=self.update(machine["id"], {}, props).outs)
        return CreateResult(machine["id"], outs=_outs(props, machine))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_KEYS if olds.get(key) != news.get(key)]
        old_config, new_config = olds.get("config") or {}, news.get("config") or {}
        # In preview the config is unknown while the image or volume it names is being made: that is
        # a change; whether it replaces (a new volume) is decided by the update's own diff.
        if not isinstance(new_config, Unknown) and old_config.get("mounts") != new_config.get("mounts"):
            replaces.append("config")
        changed = old_config != new_config or olds.get("min_secrets_version") != news.get("min_secrets_version") \
            or olds.get("state") != news.get("state") or _drifted_state(olds, news)
        return DiffResult(changes=bool(replaces) or changed, replaces=replaces, delete_before_replace=True)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        app = news["app"]
        with self.fly() as fly:
            if olds.get("config") != news["config"] or olds.get("min_secrets_version") != news["min_secrets_version"]:
                with lease(fly, app, id_) as nonce:
                    machine = fly.call("POST", f"/apps/{app}/machines/{id_}", idempotent=True,
                                       headers={"fly-machine-lease-nonce": nonce},
                                       json={"config": to_api_config(news["config"]), "region": news["region"],
                                             "min_secrets_version": news["min_secrets_version"],
                                             "skip_launch": news["state"] == "stopped"})
            else:
                machine = fly.call("GET", f"/apps/{app}/machines/{id_}")
            if news["state"] == "running" and machine["state"] in ("stopped", "created", "suspended"):
                _start(fly, app, id_)
                machine = fly.call("GET", f"/apps/{app}/machines/{id_}")
            elif news["state"] == "stopped" and machine["state"] in ("started", "starting"):
                fly.call("POST", f"/apps/{app}/machines/{id_}/stop", json={}, idempotent=True)
                machine = fly.call("GET", f"/apps/{app}/machines/{id_}")
        return UpdateResult(outs=_outs(news, machine))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.fly() as fly:
            machine = fly.call("GET", f"/apps/{props['app']}/machines/{id_}", ok_404=True)
        if machine is None or machine.get("state") == "destroyed":
            return ReadResult(None, {})
        live = from_api_config(machine.get("config") or {})
        config = {key: live.get(key) for key in props.get("config") or {}}
        return ReadResult(id_, {**_outs(props, machine), "config": config, "region": machine.get("region")})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.fly() as fly:
            fly.call("DELETE", f"/apps/{props['app']}/machines/{id_}", params={"force": "true"}, ok_404=True)
            with contextlib.suppress(FlyError):
                fly.call("GET", f"/apps/{props['app']}/machines/{id_}/wait", params={"state": "destroyed", "timeout": 60},
                         ok_404=True)


class MachineReadyProvider(FlyProvider):
    """Inputs: ``app``, ``machine_id``, ``instance_id``, ``machine_status`` (the Machine's observed
    state), ``state``, ``timeout_s``, ``user_id``. Outputs: the inputs and ``status``.
    Creating or updating it waits; ``read`` observes the machine (so refresh sees a stopped or
    failing machine); deleting it does nothing."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['machine_id']}-ready", outs={**props, "status": self._wait(props)})

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={**news, "status": self._wait(news)})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("app", "machine_id", "instance_id", "machine_status", "state")
        target = "started" if news.get("state") == "running" else "stopped"
        return DiffResult(changes=any(olds.get(k) != news.get(k) for k in keys) or olds.get("status") != target,
                          replaces=[])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.fly() as fly:
            machine = fly.call("GET", f"/apps/{props['app']}/machines/{props['machine_id']}", ok_404=True)
        if machine is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "status": machine["state"] if _checks_pass(machine) else "unhealthy"})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: this resource only waits."""

    def _wait(self, props: dict[str, Any]) -> str:
        app, machine_id = props["app"], props["machine_id"]
        target = "started" if props["state"] == "running" else "stopped"
        deadline = time.monotonic() + float(props["timeout_s"])
        machine: dict = {}
        with self.fly() as fly:
            while time.monotonic() < deadline:
                remaining = max(1, min(60, int(deadline - time.monotonic())))
                params = {"state": target, "timeout": remaining}
                if target == "started":
                    params["version"] = props["instance_id"]
                try:
                    fly.call("GET", f"/apps/{app}/machines/{machine_id}/wait", params=params)
                except FlyError as error:
                    if error.status not in (408, 400) or "deadline_exceeded" not in error.message:
                        raise
                machine = fly.call("GET", f"/apps/{app}/machines/{machine_id}")
                if machine["state"] == target and (target == "stopped" or _checks_pass(machine)):
                    return machine["state"]
                time.sleep(1)
        checks = ", ".join(f"{c.get('name')}={c.get('status')}" for c in machine.get("checks") or []) or "none"
        raise FlyError("GET", f"/apps/{app}/machines/{machine_id}/wait", 408,
                       f"machine {machine_id} of user {props['user_id']} did not become {target} with passing checks "
                       f"within {props['timeout_s']}s (state {machine.get('state')}, checks {checks})")


@contextlib.contextmanager
def lease(fly: FlyClient, app: str, machine_id: str) -> Iterator[str]:
    """Hold the machine's lease for one update; yields the nonce. 409 while another holds it is retried."""
    path = f"/apps/{app}/machines/{machine_id}/lease"
    nonce = None
    for attempt in range(30):
        try:
            answer = fly.call("POST", path, params={"ttl": LEASE_TTL_S},
                              json={"description": LEASE_DESCRIPTION, "ttl": LEASE_TTL_S})
            nonce = (answer.get("data") or answer)["nonce"]
            break
        except FlyConnectionLost:
            held = fly.call("GET", path, ok_404=True) or {}
            held = held.get("data") or held
            if held.get("description") == LEASE_DESCRIPTION and held.get("nonce"):
                nonce = held["nonce"]
                break
        except FlyError as error:
            if error.status != 409 or attempt == 29:
                raise
            time.sleep(min(2.0, 0.2 * (attempt + 1)))
    try:
        yield nonce
    finally:
        with contextlib.suppress(FlyError):
            fly.call("DELETE", path, headers={"fly-machine-lease-nonce": nonce}, ok_404=True)


def to_api_config(config: dict[str, Any]) -> dict[str, Any]:
    """fly.MachineConfig as the API takes it: file ``text`` becomes base64 ``raw_value``."""
    files = [{**{k: v for k, v in f.items() if k != "text"}, "raw_value": base64.b64encode(f["text"].encode()).decode()}
             if "text" in f else f for f in config.get("files") or []]
    return {**config, "files": files} if "files" in config else dict(config)


def from_api_config(config: dict[str, Any]) -> dict[str, Any]:
    """The inverse of ``to_api_config``, for reading a machine back."""
    files = [{**{k: v for k, v in f.items() if k != "raw_value"}, "text": base64.b64decode(f["raw_value"]).decode()}
             if f.get("raw_value") else f for f in config.get("files") or []]
    return {**config, "files": files} if "files" in config else dict(config)


def _checks_pass(machine: dict) -> bool:
    """All of the machine's checks pass (true when it has none)."""
    return all(check.get("status") == "passing" for check in machine.get("checks") or [])


def _start(fly: FlyClient, app: str, machine_id: str) -> None:
    for attempt in range(20):
        try:
            fly.call("POST", f"/apps/{app}/machines/{machine_id}/start", idempotent=True)
            return
        except FlyError as error:
            if error.status != 412 or attempt == 19:  # failed_precondition: still created / being replaced
                raise
            time.sleep(0.5)


def _find_by_name(fly: FlyClient, app: str, name: str, adopt: bool = False) -> dict | None:
    machines = [m for m in fly.call("GET", f"/apps/{app}/machines", ok_404=True) or [] if m.get("state") != "destroyed"]
    named = next((m for m in machines if m.get("name") == name), None)
    return named or (machines[0] if adopt and len(machines) == 1 else None)


def _drifted_state(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    observed = olds.get("status")
    return (news.get("state") == "running" and observed in ("stopped", "suspended", "created")) or \
        (news.get("state") == "stopped" and observed == "started")


def _outs(props: dict[str, Any], machine: dict[str, Any]) -> dict[str, Any]:
    return {**props, "instance_id": machine.get("instance_id"), "status": machine.get("state"),
            "private_ip": machine.get("private_ip")}


class Machine(Resource, module="fly", name="Machine"):
    """A Fly machine named ``name`` in ``app`` and ``region`` running ``config``."""

    instance_id: pulumi.Output[str]
    status: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(delete_before_replace=True))
        super().__init__(MachineProvider(), resource_name,
                         {**props, "instance_id": None, "status": None, "private_ip": None}, opts)


class MachineReady(Resource, module="fly", name="MachineReady"):
    """Waits for ``machine_id`` (version ``instance_id``) to be started with passing checks, or stopped."""

    status: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(MachineReadyProvider(), resource_name, {**props, "status": None}, opts)
