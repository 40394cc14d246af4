"""A user's encrypted state volume (``/apps/{app_name}/volumes``), mounted at /home/node/.openclaw.

Seed 000: ``openclaw_data``, 1 GB, encrypted, in the machine's region. Growth is ``PUT
…/extend`` in place, never a replacement; shrinking is refused by ``check``; a region change is a
new volume (a replacement, which preview shows). Live-API behaviours handled here: a volume
created right after its app can answer 404 for a moment (retried); deleting a volume still
attached to a machine answers 409 (retried while the machine is being destroyed).

Deprovision policy (issue 4, seed 002): with ``snapshot``, delete first takes a Fly volume snapshot
(``POST …/volumes/{id}/snapshots``; the app is kept, so the snapshot outlives the volume); a
returning user with ``restore: latest`` gets ``restore_from_volume`` (the departed volume's id)
and the new volume is created from that volume's newest snapshot (``snapshot_id``). With
``retain`` the resource is registered with ``retain_on_delete`` and a returning user's create
finds the kept, unattached volume by name and takes it back. With ``adopt`` the volume of that name
is taken over even while attached (to the machine being adopted with it).
"""

import time
from typing import Any

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from components.fly.client import FlyError, FlyProvider, find_or_create

REPLACE_KEYS = ("app", "name", "region", "encrypted")
POLICY_KEYS = ("deprovision",)


class VolumeProvider(FlyProvider):
    """Inputs: ``app``, ``name``, ``region``, ``size_gb`` (GB), ``encrypted``, ``deprovision``,
    ``restore_from_volume`` (create only). Outputs: the inputs, ``attached_machine_id``, ``state``,
    ``snapshot_id`` (what it was restored from). Id: the volume id (``vol_…``)."""

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = []
        if olds and news.get("size_gb", 0) < olds.get("size_gb", 0) and olds.get("region") == news.get("region"):
            failures.append(CheckFailure("size_gb", f"a Fly volume can grow but not shrink "
                                                    f"({olds['size_gb']} GB → {news['size_gb']} GB)"))
        return CheckResult(news, failures)

    def create(self, props: dict[str, Any]) -> CreateResult:
        path = f"/apps/{props['app']}/volumes"
        body = {key: props[key] for key in ("name", "region", "size_gb", "encrypted")}
        with self.fly() as fly:
            if props.get("restore_from_volume"):
                snapshots_path = f"{path}/{props['restore_from_volume']}/snapshots"
                snapshots = fly.call("GET", snapshots_path) or []
                if not snapshots:
                    raise FlyError("GET", snapshots_path, 404, "restore: latest, but the departed volume has no snapshot")
                body["snapshot_id"] = max(snapshots, key=lambda snap: snap["created_at"])["id"]

            def find() -> dict | None:
                return next((v for v in fly.call("GET", path, ok_404=True) or []
                             if v["name"] == props["name"] and v["region"] == props["region"]
                             and (props.get("adopt") or not v.get("attached_machine_id"))
                             and v.get("state") != "destroyed"), None)

            # 404: the app is not visible yet right after its creation (live API)
            volume = find_or_create(find, lambda: fly.call("POST", path, json=body), retry_status=frozenset({404}))
        return CreateResult(volume["id"], outs={**_outs(props, volume), "snapshot_id": body.get("snapshot_id")})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_KEYS if olds.get(key) != news.get(key)]
        grows = olds.get("size_gb") != news.get("size_gb")
        policy = any(olds.get(key) != news.get(key) for key in POLICY_KEYS)
        return DiffResult(changes=bool(replaces) or grows or policy, replaces=replaces)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        news = {**news, "snapshot_id": olds.get("snapshot_id")}
        if olds.get("size_gb") == news["size_gb"]:  # only the policy changed: nothing to tell Fly
            return UpdateResult(outs={**olds, **news})
        with self.fly() as fly:
            result = fly.call("PUT", f"/apps/{news['app']}/volumes/{id_}/extend", json={"size_gb": news["size_gb"]})
        return UpdateResult(outs=_outs(news, result.get("volume") or {**olds, "size_gb": news["size_gb"]}))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.fly() as fly:
            volume = fly.call("GET", f"/apps/{props['app']}/volumes/{id_}", ok_404=True)
        if volume is None or volume.get("state") == "destroyed":
            return ReadResult(None, {})
        return ReadResult(id_, {**_outs(props, volume), "region": volume["region"], "size_gb": volume["size_gb"],
                                "encrypted": volume.get("encrypted", props.get("encrypted"))})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        with self.fly() as fly:
            if props.get("deprovision") == "snapshot":
                fly.call("POST", f"/apps/{props['app']}/volumes/{id_}/snapshots", idempotent=True)
            for attempt in range(20):
                try:
                    fly.call("DELETE", f"/apps/{props['app']}/volumes/{id_}", ok_404=True)
                    return
                except FlyError as error:
                    if error.status != 409 or attempt == 19:  # still attached to a machine being destroyed
                        raise
                    time.sleep(1)


def _outs(props: dict[str, Any], volume: dict[str, Any]) -> dict[str, Any]:
    return {**props, "attached_machine_id": volume.get("attached_machine_id"), "state": volume.get("state")}


class Volume(Resource, module="fly", name="Volume"):
    """An encrypted volume of ``size_gb`` GB named ``name`` in ``region`` of ``app``."""

    attached_machine_id: pulumi.Output[str]

    def __init__(self, resource_name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(VolumeProvider(), resource_name,
                         {**props, "attached_machine_id": None, "state": None, "snapshot_id": None}, opts)
