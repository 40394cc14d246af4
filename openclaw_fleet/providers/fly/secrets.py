"""``fly:AppSecrets``: an app's secrets (``POST|GET /apps/{app_name}/secrets``, ``DELETE …/{name}``).

Holds the gateway token and the user's provider keys. Values are sent once and never read back:
the API lists names and digests only. Each update answers a new secrets ``version``; machines
pick up changed secrets only when they are updated (Fly: https://fly.io/docs/apps/secrets/), so
the machine takes ``version`` as its ``min_secrets_version`` input and is updated whenever the
secrets change.

Create and update store the ``version`` alone: the secret names set are the keys of ``values``,
which the provider server hands back with the old outputs, so diff compares them with the values.
``read`` (refresh) stores the ``names`` Fly lists, and diff compares those with the declared ones.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, UpdateResult
from pulumi.output import Unknown

from openclaw_fleet.providers.base import FleetProvider, FleetResource, Input, ResourceArgs


class AppSecretsArgs(ResourceArgs):
    """Inputs: the ``app`` and ``values`` (env name → value; a Pulumi secret)."""

    app: Input[str]
    values: Input[dict[str, str]]


class AppSecretsState(AppSecretsArgs):
    """The inputs and the secrets ``version`` (``read`` adds the secret ``names`` Fly lists)."""

    version: int | None = None


class AppSecretsProvider(FleetProvider):
    """Sets, reads (names only) and deletes an app's secrets. Id: ``<app>/secrets``."""

    args_type = AppSecretsArgs

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = AppSecretsArgs.parse(props)
        return CreateResult(f"{args.app}/secrets", outs=self._apply(args, args.values))

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        args = AppSecretsArgs.parse(news)
        removed = {name: None for name in olds.get("values") or {} if name not in args.values}
        return UpdateResult(outs=self._apply(args, {**args.values, **removed}))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = ["app"] if olds.get("app") != news.get("app") else []
        if isinstance(news["values"], Unknown):  # preview of a token still to be made: a change
            return DiffResult(changes=True, replaces=replaces)
        # Names Fly listed at a refresh; without one, the values' comparison below says it all.
        drifted = "names" in olds and sorted(olds["names"] or []) != sorted(news["values"])
        return DiffResult(changes=bool(replaces) or drifted or olds.get("values") != news["values"], replaces=replaces)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        fly = self.fly()
        listing = fly.list_secrets(props["app"])
        if listing is None:
            return ReadResult(None, {})
        return ReadResult(id_, {**props, "names": sorted(secret["name"] for secret in listing)})

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        fly = self.fly()
        for name in props.get("values") or {}:
            fly.delete_secret(props["app"], name)

    def _apply(self, args: AppSecretsArgs, values: dict[str, str | None]) -> dict[str, Any]:
        fly = self.fly()
        version = fly.set_secrets(args.app, values)
        return AppSecretsState(**args.props(), version=version).props()


PROVIDER = AppSecretsProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class AppSecrets(FleetResource, module="fly", name="AppSecrets"):
    """The secrets of an app; ``values`` is stored only as a Pulumi secret."""

    dynamic_provider, state_type = PROVIDER, AppSecretsState
    secret_outputs = ("values",)
    version: pulumi.Output[int]
