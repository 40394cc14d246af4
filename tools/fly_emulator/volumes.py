"""Emulated volumes (encrypted, one machine each) and their snapshots."""

from __future__ import annotations

import secrets
import time

from tools.fly_emulator.routes import handles
from tools.fly_emulator.state import REGIONS, VOLUME_NAME_RE, ApiError, FlyState, now_iso

# -- volumes -------------------------------------------------------------------------------------


@handles("GET", "/apps/([^/]+)/volumes")
def list_volumes(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    for machine in app["machines"].values():
        state.advance(machine)
    return 200, list(app["volumes"].values())


@handles("POST", "/apps/([^/]+)/volumes")
def create_volume(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    if time.monotonic() - app["created"] < state.timing.app_propagation_s:
        raise ApiError(404, f"app not found: {app_name}")  # live: a brand-new app is not visible everywhere yet
    body = body or {}
    name, region, size = body.get("name"), body.get("region"), body.get("size_gb", 1)
    if not name or not VOLUME_NAME_RE.match(name):
        raise ApiError(400, "invalid volume name: lowercase letters, digits and underscores, at most 30")
    if region not in REGIONS:
        raise ApiError(400, f"invalid region {region!r}")
    if not isinstance(size, int) or not 1 <= size <= 500:
        raise ApiError(400, "size_gb must be between 1 and 500")
    volume = {
        "id": "vol_" + secrets.token_hex(8),
        "name": name,
        "region": region,
        "zone": f"{region}1",
        "size_gb": size,
        "encrypted": body.get("encrypted", True),
        "state": "created",
        "fstype": "ext4",
        "attached_machine_id": None,
        "attached_alloc_id": None,
        "created_at": now_iso(),
        "host_status": "ok",
        "type": "local",
        "auto_backup_enabled": body.get("auto_backup_enabled", True),
        "snapshot_retention": body.get("snapshot_retention", 5),
        "block_size": 4096,
        "blocks": size * 262144,
        "blocks_free": size * 262144,
        "blocks_avail": size * 262144,
        "bytes_total": size * 2**30,
        "bytes_used": 0,
    }
    snapshot_id = body.get("snapshot_id")
    if snapshot_id:
        if not any(snap["id"] == snapshot_id for snaps in app["snapshots"].values() for snap in snaps):
            raise ApiError(404, f"snapshot not found: {snapshot_id}")
        app["restored"][volume["id"]] = snapshot_id
        if state.runtime:
            state.runtime.restore(snapshot_id, volume["id"])
    app["volumes"][volume["id"]] = volume
    return 200, volume


@handles("GET", "/apps/([^/]+)/volumes/([^/]+)/snapshots")
def list_snapshots(state, app_name, volume_id, *, query, body, headers):
    app = state.app(app_name)
    if volume_id not in app["volumes"] and volume_id not in app["snapshots"]:
        raise ApiError(404, f"volume not found: {volume_id}")
    return 200, app["snapshots"].get(volume_id, [])


@handles("POST", "/apps/([^/]+)/volumes/([^/]+)/snapshots")
def create_snapshot(state, app_name, volume_id, *, query, body, headers):
    app = state.app(app_name)
    volume = _volume(state, app_name, volume_id)
    snapshot_id = "vs_" + secrets.token_hex(8)
    if state.runtime:
        state.runtime.snapshot(volume_id, snapshot_id)
    app["snapshots"].setdefault(volume_id, []).append(
        {
            "id": snapshot_id,
            "created_at": now_iso(),
            "digest": secrets.token_hex(16),
            "retention_days": volume["snapshot_retention"],
            "size": volume["bytes_used"],
            "status": "created",
            "volume_size": volume["size_gb"],
        }
    )
    return 200, None  # the spec's 200 has no body


@handles("GET", "/apps/([^/]+)/volumes/([^/]+)")
def show_volume(state, app_name, volume_id, *, query, body, headers):
    return 200, _volume(state, app_name, volume_id)


@handles("PUT", "/apps/([^/]+)/volumes/([^/]+)")
def update_volume(state, app_name, volume_id, *, query, body, headers):
    volume = _volume(state, app_name, volume_id)
    retention = (body or {}).get("snapshot_retention", volume["snapshot_retention"])
    if not isinstance(retention, int) or not 1 <= retention <= 60:
        raise ApiError(400, "snapshot_retention must be a whole number of days from 1 to 60")
    volume.update(
        snapshot_retention=retention,
        auto_backup_enabled=(body or {}).get("auto_backup_enabled", volume["auto_backup_enabled"]),
    )
    return 200, volume


@handles("PUT", "/apps/([^/]+)/volumes/([^/]+)/extend")
def extend_volume(state, app_name, volume_id, *, query, body, headers):
    volume = _volume(state, app_name, volume_id)
    size = (body or {}).get("size_gb")
    if not isinstance(size, int) or size <= volume["size_gb"] or size > 500:
        raise ApiError(400, f"size_gb must be larger than the current {volume['size_gb']} GB (and at most 500)")
    volume.update(size_gb=size, bytes_total=size * 2**30, blocks=size * 262144)
    return 200, {"volume": volume, "needs_restart": False}


@handles("DELETE", "/apps/([^/]+)/volumes/([^/]+)")
def delete_volume(state, app_name, volume_id, *, query, body, headers):
    app = state.app(app_name)
    for machine in app["machines"].values():
        state.advance(machine)
    volume = _volume(state, app_name, volume_id)
    if volume["attached_machine_id"]:
        raise ApiError(409, f"volume {volume_id} is attached to machine {volume['attached_machine_id']}")  # live
    del app["volumes"][volume_id]
    if state.runtime:
        state.runtime.remove_volume(volume_id)
    return 200, {**volume, "state": "destroyed"}


def _volume(state: FlyState, app_name: str, volume_id: str) -> dict:
    volume = state.app(app_name)["volumes"].get(volume_id)
    if volume is None:
        raise ApiError(404, f"volume not found: {volume_id}")
    return volume
