"""An app's secrets (``POST|GET /apps/{app_name}/secrets``, ``DELETE …/secrets/{name}``).

Holds the gateway token and the user's provider keys. Values are sent once and never read back:
the API lists names and digests only. Each update answers a new secrets ``version``; machines
pick up changed secrets only when they are updated, so the machine takes ``version`` as its
``min_secrets_version`` input and is updated whenever the secrets change. A secrets update can
answer 409 while another is being applied (live API); it is retried.
"""

import time
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult
from pulumi.output import Unknown

from components.fly.client import FlyError, FlyProvider


class AppSecretsProvider(FlyProvider):
    """Inputs: ``app``, ``values`` (name → value, secret). Outputs: the inputs, ``names``, ``version``."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"{props['app']}/secrets", outs=self._apply(props, props["values"]))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        removed = {name: None for name in olds.get("values") or {} if name not in news["values"]}
        return UpdateResult(outs=self._apply(news, {**news["values"], **removed}))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["app"] if olds.get("app") != news.get("app") else []
        if isinstance(news["values"], Unknown):  # preview of a new token: a change
            return DiffResult(changes=True, replaces=replaces)
        drifted = sorted(olds.get("names") or []) != sorted(news["values"])
        return DiffResult(changes=bool(replaces) or drifted or olds.get("values") != news["values"],
                          replaces=replaces)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        with self.fly() as fly:
            listing = fly.call("GET", f"/apps/{props['app']}/secrets", ok_404=True)
        if listing is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "names": sorted(s["name"] for s in listing.get("secrets") or [])})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        with self.fly() as fly:
            for name in props.get("values") or {}:
                fly.call("DELETE", f"/apps/{props['app']}/secrets/{name}", ok_404=True)

    def _apply(self, props: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
        path = f"/apps/{props['app']}/secrets"
        with self.fly() as fly:
            for attempt in range(10):
                try:
                    result = fly.call("POST", path, json={"values": values}, idempotent=True)
                    break
                except FlyError as error:
                    if error.status != 409 or attempt == 9:
                        raise
                    time.sleep(0.5 * (attempt + 1))
        version = result.get("version") or result.get("Version") or 0
        return {**props, "names": sorted(props["values"]), "version": version}


class AppSecrets(Resource, module="fly", name="AppSecrets"):
    """The secrets of ``app``; ``values`` is stored only as a Pulumi secret."""

    version: pulumi.Output[int]

    def __init__(self, resource_name: str, app: pulumi.Input[str], values: pulumi.Input[dict],
                 opts: pulumi.ResourceOptions | None = None):
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=["values"]))
        super().__init__(AppSecretsProvider(), resource_name,
                         {"app": app, "values": pulumi.Output.secret(values), "names": None, "version": None}, opts)
