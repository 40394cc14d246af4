"""``fly:App``: a user's Fly app and its public addresses (``POST /apps``, ``GET|DELETE
/apps/{app_name}``, ``GET|POST /apps/{app_name}/ip_assignments``).

Deleting an app deletes everything in it (machines, volumes, IPs, secrets). Creating an app whose
name is taken answers 409 (live API; the spec lists only 201/400): when the existing app is in
our org and holds no machine and no volume, it is the one an interrupted earlier create made, and
is taken over; one that holds data is taken over only with ``adopt``, which the program sets for
apps made by hand or an earlier tool (the roster's ``adopt: true``) and for a returning user whose
app a ``retain``/``snapshot`` deprovision policy kept; otherwise ``HeldByAnother`` says whose it
may be: a later user with the same instance name must not inherit a departed user's data.

Each app is created on a private network of its own, named after the app: by default every app of
an org shares one private network (6PN), where any user's machine could reach every other user's
gateway port, guarded by its token alone. The network is chosen at creation only (Fly has no call
to move an app), so an app made before this was set keeps the org's network until it is
re-created. ``GET /apps/{app_name}`` (Machines API) answers the app's ``network``.

Each app has a shared IPv4 and an IPv6 so that ``<app>.fly.dev`` resolves (Fly:
https://fly.io/docs/networking/services/#ip-addresses). They are part of the app here, not
resources of their own: they live and die with it (Fly releases them with the app), and two more
resources a user cost two more entries in the checkpoint and two more Check and Diff calls in
every preview. Allocation is not idempotent, so each is looked for first (an interrupted earlier
try may have made it); it can answer 409 while another allocation for the app is in flight (live
API), which is waited out, and the two are allocated one after the other. An app whose state has
no address (a stack made when addresses were ``fly:IPAssignment`` resources, or one a refresh
found released) is updated in place: the addresses it lacks are found or allocated.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult

from openclaw_fleet.errors import FlyApiError, HeldByAnother
from openclaw_fleet.providers.base import FleetProvider, FleetResource, ResourceArgs
from openclaw_fleet.providers.fly.client import FlyClient

REPLACE_FIELDS = ("name", "org_slug")
ADDRESS_FIELDS = {"shared_ipv4": "shared_v4", "ipv6": "v6"}
"""State field → the ``type`` of ``POST /apps/{app_name}/ip_assignments`` that makes it."""


def ip_kind(assignment: dict) -> str:
    """``v6``, ``shared_v4`` or ``v4`` for an ``IPAssignment`` object of the API."""
    return "v6" if ":" in assignment["ip"] else ("shared_v4" if assignment.get("shared") else "v4")


def first_of_kind(listing: list[dict], kind: str) -> dict | None:
    """The first ``IPAssignment`` object of ``kind`` (``shared_v4``, ``v6``) in an app's listing."""
    return next((assignment for assignment in listing if ip_kind(assignment) == kind), None)


def addresses(fly: FlyClient, app: str) -> dict[str, str]:
    """State field → address for the app's shared IPv4 and IPv6, each found or else allocated."""
    made = {}
    for field, kind in ADDRESS_FIELDS.items():
        made[field] = fly.find_or_create(
            lambda kind=kind: first_of_kind(fly.list_ip_assignments(app) or [], kind),
            lambda kind=kind: fly.assign_ip(app, kind),
            wait_out=frozenset({409}),
        )["ip"]
    return made


class AppArgs(ResourceArgs):
    """Inputs of an app: its ``name`` (``<prefix>-u-<shortId>``), ``org_slug``, ``adopt``."""

    name: str
    org_slug: str
    adopt: bool = False


class AppState(AppArgs):
    """An app's state: the inputs, Fly's ``status`` (``pending``, ``deployed``…) and its
    ``shared_ipv4`` and ``ipv6`` addresses."""

    status: str | None = None
    shared_ipv4: str | None = None
    ipv6: str | None = None


class AppProvider(FleetProvider):
    """Creates, reads and deletes apps with their addresses; a change of name or org replaces the
    app, a missing address is made in place. Id: the app name."""

    args_type = AppArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = AppArgs.parse(props)
        fly = self.fly()
        try:
            fly.create_app(args.name, args.org_slug, network=args.name)
        except FlyApiError as error:
            existing = fly.get_app(args.name) if error.status == 409 else None
            org = ((existing or {}).get("organization") or {}).get("slug")
            if existing is None or org not in (None, args.org_slug):
                raise
            if not args.adopt and (existing.get("machine_count") or fly.list_volumes(args.name)):
                raise HeldByAnother(
                    f"Fly app {args.name} already exists and holds a machine or volume that this stack does not "
                    "manage (a departed user's kept data, or an app made elsewhere); set `adopt: true` on the user "
                    "only if that data is theirs"
                ) from None
        made = addresses(fly, args.name)
        app = fly.get_app(args.name) or {}
        return CreateResult(args.name, outs=AppState(**args.props(), status=app.get("status"), **made).props())

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in REPLACE_FIELDS if olds.get(key) != news.get(key)]
        missing = [field for field in ADDRESS_FIELDS if not olds.get(field)]
        return DiffResult(changes=bool(changed or missing), replaces=changed)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        args = AppArgs.parse(news)
        made = addresses(self.fly(), id_)
        return UpdateResult(AppState(**args.props(), status=olds.get("status"), **made).props())

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        fly = self.fly()
        app = fly.get_app(id_)
        if app is None:
            return ReadResult(None, {})
        listing = fly.list_ip_assignments(id_) or []
        found = {field: (first_of_kind(listing, kind) or {}).get("ip") for field, kind in ADDRESS_FIELDS.items()}
        return ReadResult(id_, {**props, "name": app["name"], "status": app.get("status"), **found})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        fly = self.fly()
        fly.delete_app(id_)


PROVIDER = AppProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class App(FleetResource, module="fly", name="App"):
    """A Fly app with a shared IPv4 and an IPv6; ``name`` is its name once created."""

    dynamic_provider, state_type = PROVIDER, AppState
    name: pulumi.Output[str]
    status: pulumi.Output[str]
    shared_ipv4: pulumi.Output[str]
    ipv6: pulumi.Output[str]
