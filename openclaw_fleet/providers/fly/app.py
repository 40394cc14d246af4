"""``fly:App``: a user's Fly app (``POST /apps``, ``GET|DELETE /apps/{app_name}``).

Deleting an app deletes everything in it (machines, volumes, IPs, secrets). Creating an app whose
name is taken answers 409 (live API; the spec lists only 201/400): when the existing app is in
our org and has no machine, it is the one an interrupted earlier create made, or one kept by a
``retain``/``snapshot`` deprovision policy for a returning user, and is taken over; otherwise the
409 stands. With ``adopt`` (taking over apps made by hand or by an earlier tool), an existing
app of our org is taken over whatever it holds.

Each app is created on a private network of its own, named after the app: by default every app of
an org shares one private network (6PN), where any user's machine could reach every other user's
gateway port, guarded by its token alone. The network is chosen at creation only (Fly has no call
to move an app), so an app made before this was set keeps the org's network until it is
re-created. ``GET /apps/{app_name}`` (Machines API) answers the app's ``network``.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult

from openclaw_fleet.errors import FlyApiError
from openclaw_fleet.providers.base import FleetProvider, FleetResource, ResourceArgs

REPLACE_FIELDS = ("name", "org_slug")


class AppArgs(ResourceArgs):
    """Inputs of an app: its ``name`` (``<prefix>-u-<shortId>``), ``org_slug``, ``adopt``."""

    name: str
    org_slug: str
    adopt: bool = False


class AppState(AppArgs):
    """An app's state: the inputs and Fly's ``status`` (``pending``, ``deployed``…)."""

    status: str | None = None


class AppProvider(FleetProvider):
    """Creates, reads and deletes apps; any input change replaces the app. Id: the app name."""

    args_type = AppArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = AppArgs.parse(props)
        fly = self.fly()
        try:
            fly.create_app(args.name, args.org_slug, network=args.name)
        except FlyApiError as error:
            existing = fly.get_app(args.name) if error.status == 409 else None
            org = ((existing or {}).get("organization") or {}).get("slug")
            if (
                existing is None
                or org not in (None, args.org_slug)
                or (existing.get("machine_count") and not args.adopt)
            ):
                raise
        app = fly.get_app(args.name) or {}
        return CreateResult(args.name, outs=AppState(**args.props(), status=app.get("status")).props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in REPLACE_FIELDS if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        fly = self.fly()
        app = fly.get_app(id_)
        if app is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "name": app["name"], "status": app.get("status")})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        fly = self.fly()
        fly.delete_app(id_)


class App(FleetResource, module="fly", name="App"):
    """A Fly app; ``name`` is its name once created."""

    provider_type, state_type = AppProvider, AppState
    name: pulumi.Output[str]
    status: pulumi.Output[str]
