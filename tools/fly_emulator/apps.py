"""Emulated apps, their IP assignments and their secrets (values never returned)."""

from __future__ import annotations

import hashlib
import random
import secrets
import time

from tools.fly_emulator.routes import handles
from tools.fly_emulator.state import APP_NAME_RE, SECRET_NAME_RE, ApiError, now_iso

# -- apps ----------------------------------------------------------------------------------------


@handles("GET", "/apps")
def list_apps(state, *, query, body, headers):
    org = (query.get("org_slug") or [None])[0]
    apps = [_app_json(a) for a in state.apps.values() if org in (None, a["org"])]
    return 200, {"total_apps": len(apps), "apps": apps}


@handles("POST", "/apps")
def create_app(state, *, query, body, headers):
    body = body or {}
    name, org = body.get("name") or body.get("app_name"), body.get("org_slug")
    if not name or not APP_NAME_RE.match(name):
        raise ApiError(400, "invalid app name: lowercase letters, digits and dashes, 2-63 characters")
    if org not in state.orgs:
        raise ApiError(404, f"organization not found: {org}")
    if name in state.apps:
        raise ApiError(409, f"app name {name} is already taken")  # live: 409, the spec lists only 201/400
    state.apps[name] = {
        "id": secrets.token_hex(8),
        "name": name,
        "org": org,
        "created": time.monotonic(),
        "network": body.get("network") or "default",
        "machines": {},
        "volumes": {},
        "ips": [],
        "secrets": {},
        "secrets_version": 0,
        "snapshots": {},
        "restored": {},
    }
    return 201, None


@handles("GET", "/apps/([^/]+)")
def show_app(state, app_name, *, query, body, headers):
    return 200, _app_json(state.app(app_name))


@handles("DELETE", "/apps/([^/]+)")
def delete_app(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    if state.runtime:
        for machine in app["machines"].values():
            state.runtime.destroy(machine)
        for volume_id in app["volumes"]:
            state.runtime.remove_volume(volume_id)
    del state.apps[app_name]  # cascades: machines, volumes, IPs and secrets go with it
    return 202, None


def _app_json(app: dict) -> dict:
    live = [m for m in app["machines"].values() if m.state != "destroyed"]
    return {
        "id": app["id"],
        "name": app["name"],
        "machine_count": len(live),
        "volume_count": len(app["volumes"]),
        "network": app["network"],
        "organization": {"name": app["org"], "slug": app["org"]},
        "status": "deployed" if live else "pending",
        "internal_numeric_id": int(app["id"][:6], 16),
    }


# -- IP assignments ------------------------------------------------------------------------------


@handles("GET", "/apps/([^/]+)/ip_assignments")
def list_ips(state, app_name, *, query, body, headers):
    return 200, {"ips": state.app(app_name)["ips"]}


@handles("POST", "/apps/([^/]+)/ip_assignments")
def assign_ip(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    kind = (body or {}).get("type")
    if kind == "shared_v4":
        ip = {"ip": "66.241.124.11", "shared": True}
    elif kind == "v4":
        ip = {"ip": f"137.66.{random.randint(0, 255)}.{random.randint(1, 254)}", "shared": False}
    elif kind in ("v6", "private_v6"):
        state._v6 += 1
        ip = {"ip": f"2a09:8280:1::{state._v6:x}:{random.randint(1, 0xFFFF):x}", "shared": False}
    else:
        raise ApiError(400, f"invalid type {kind!r}: one of v4, shared_v4, v6, private_v6")
    if any(existing["ip"] == ip["ip"] for existing in app["ips"]):
        raise ApiError(409, f"app already has the shared IPv4 {ip['ip']}")
    ip.update(
        region=(body or {}).get("region") or "global",
        created_at=now_iso(),
        service_name=(body or {}).get("service_name") or "",
    )
    app["ips"].append(ip)
    return 200, ip


@handles("DELETE", "/apps/([^/]+)/ip_assignments/([^/]+)")
def release_ip(state, app_name, ip, *, query, body, headers):
    app = state.app(app_name)
    if not any(a["ip"] == ip for a in app["ips"]):
        raise ApiError(404, f"ip not found: {ip}")
    app["ips"] = [a for a in app["ips"] if a["ip"] != ip]
    return 204, None


# -- secrets -------------------------------------------------------------------------------------


@handles("GET", "/apps/([^/]+)/secrets")
def list_secrets(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    # show_secrets is accepted and ignored: this emulator never returns a secret value in plain text.
    return 200, {"secrets": [_secret_json(name, s) for name, s in sorted(app["secrets"].items())]}


@handles("POST", "/apps/([^/]+)/secrets")
def update_secrets(state, app_name, *, query, body, headers):
    app = state.app(app_name)
    values = (body or {}).get("values")
    if not isinstance(values, dict) or not values:
        raise ApiError(400, "values must be a non-empty object of secret name to value (null deletes)")
    for name, value in values.items():
        if not SECRET_NAME_RE.match(name) or not (value is None or isinstance(value, str)):
            raise ApiError(400, f"invalid secret {name!r}: names are env names, values strings or null")
    for name, value in values.items():
        if value is None:
            app["secrets"].pop(name, None)
        else:
            old = app["secrets"].get(name)
            app["secrets"][name] = {
                "value": value,
                "digest": hashlib.sha256(value.encode()).hexdigest()[:16],
                "created_at": old["created_at"] if old else now_iso(),
                "updated_at": now_iso(),
            }
    app["secrets_version"] += 1
    return 200, {
        "secrets": [_secret_json(n, s) for n, s in sorted(app["secrets"].items())],
        "version": app["secrets_version"],
        "Version": app["secrets_version"],
    }


@handles("DELETE", "/apps/([^/]+)/secrets/([^/]+)")
def delete_secret(state, app_name, name, *, query, body, headers):
    app = state.app(app_name)
    if app["secrets"].pop(name, None) is None:
        raise ApiError(404, f"secret not found: {name}")
    app["secrets_version"] += 1
    return 200, {"version": app["secrets_version"]}


def _secret_json(name: str, secret: dict) -> dict:
    return {
        "name": name,
        "digest": secret["digest"],
        "created_at": secret["created_at"],
        "updated_at": secret["updated_at"],
    }
