"""A Fly app per user (``POST /apps``, ``GET|DELETE /apps/{app_name}``).

Deleting an app deletes everything in it (machines, volumes, IPs, secrets). Creating an app whose
name is taken answers 409 (live API; the spec lists only 201/400): when the existing app is in
our org and has no machine, it is the one an interrupted earlier create made, or one kept by a
``retain``/``snapshot`` deprovision policy for a returning user, and is taken over; otherwise the
409 stands. With ``adopt`` (issue 4: taking over seed 000's imperatively built apps), an existing
app of our org is taken over whatever it holds.
"""

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource

from components.fly.client import FlyConnectionLost, FlyError, FlyProvider


class AppProvider(FlyProvider):
    """Inputs: ``name``, ``org_slug``, ``adopt``. Outputs: the inputs and ``status``. Id: the app name."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        name = props["name"]
        with self.fly() as fly:
            for _ in range(3):
                try:
                    fly.call("POST", "/apps", json={"name": name, "org_slug": props["org_slug"]})
                    break
                except FlyConnectionLost:
                    continue  # it may exist now: the next POST answers 409 if so
                except FlyError as error:
                    if error.status != 409:
                        raise
                    existing = fly.call("GET", f"/apps/{name}")
                    org = (existing.get("organization") or {}).get("slug")
                    if org not in (None, props["org_slug"]) or (existing.get("machine_count") and not props.get("adopt")):
                        raise
                    break
            app = fly.call("GET", f"/apps/{name}")
        return CreateResult(name, outs={**props, "status": app.get("status")})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [key for key in ("name", "org_slug") if olds.get(key) != news.get(key)]
        return DiffResult(changes=bool(changed), replaces=changed)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.fly() as fly:
            app = fly.call("GET", f"/apps/{id_}", ok_404=True)
        if app is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "name": app["name"], "status": app.get("status")})

    def delete(self, id_: str, _props: dict[str, Any]) -> None:
        with self.fly() as fly:
            fly.call("DELETE", f"/apps/{id_}", ok_404=True)


class App(Resource, module="fly", name="App"):
    """The Fly app ``name`` in org ``org_slug``."""

    name: pulumi.Output[str]

    def __init__(self, resource_name: str, name: str, org_slug: str, adopt: bool = False,
                 opts: pulumi.ResourceOptions | None = None):
        super().__init__(AppProvider(), resource_name,
                         {"name": name, "org_slug": org_slug, "adopt": adopt, "status": None}, opts)
