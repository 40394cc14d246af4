"""``fly:Volume``: a user's encrypted state volume (``/apps/{app_name}/volumes``).

``openclaw_data``, encrypted, in the machine's region, mounted at /home/node/.openclaw. Growth is
``PUT …/extend`` in place, never a replacement; shrinking is refused by ``check`` (Fly volumes
cannot shrink: https://fly.io/docs/volumes/volume-manage/#extend-a-volume); a region change is a
new volume, a replacement that the preview shows. A volume created right after its app can answer
404 for a moment (live API; waited out).

Deprovision policy: with ``snapshot``, delete first takes a volume snapshot (the app is kept, so
the snapshot outlives the volume); a returning user with ``restore: latest`` gets
``restore_from_volume`` (the departed volume's id) and the new volume starts from that volume's
newest snapshot (``snapshot_id``). With ``retain`` the resource is registered with
``retain_on_delete`` and a returning user's create finds the kept, unattached volume by name and
takes it back. ``snapshot_retention`` (days Fly keeps the volume's snapshots, daily ones and
the one taken on departure) is set at create and changed in place (``PUT …/volumes/{id}``). With
``adopt`` the volume of that name is taken over even while attached (to the
machine being adopted with it).
"""

from __future__ import annotations

from typing import Any, Literal

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult, CreateResult, DiffResult, ReadResult, UpdateResult

from openclaw_fleet.errors import SnapshotError
from openclaw_fleet.providers.base import FleetProvider, FleetResource, Input, ResourceArgs

REPLACE_FIELDS = ("app", "name", "region", "encrypted")
POLICY_FIELDS = ("deprovision",)
IN_PLACE_FIELDS = ("size_gb", "snapshot_retention")


class VolumeArgs(ResourceArgs):
    """Inputs: ``app``, ``name``, ``region``, ``size_gb`` (GB), ``encrypted``, ``deprovision``,
    ``adopt``, ``restore_from_volume`` (create only: the departed volume to restore from),
    ``snapshot_retention`` (days; None: Fly's default, 5) and ``restore_snapshot`` (a snapshot id,
    set for one run by ``fleet rollout --back USER --restore``: the volume is replaced by one made
    from it, since Fly cannot fill an existing volume; unset again later, it changes nothing)."""

    app: Input[str]
    name: str
    region: str
    size_gb: int
    encrypted: bool = True
    deprovision: Literal["delete", "retain", "snapshot"] = "delete"
    adopt: bool = False
    restore_from_volume: str | None = None
    snapshot_retention: int | None = None
    restore_snapshot: str | None = None


class VolumeState(VolumeArgs):
    """The inputs, ``attached_machine_id``, Fly's ``state`` and ``snapshot_id`` (the snapshot it
    was restored from, if any)."""

    attached_machine_id: str | None = None
    state: str | None = None
    snapshot_id: str | None = None


class VolumeProvider(FleetProvider):
    """Creates (or finds), extends, reads and deletes a volume. Id: the volume id (``vol_…``)."""

    args_type = VolumeArgs

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        result = super().check(olds, news)
        if olds and news.get("size_gb", 0) < olds.get("size_gb", 0) and olds.get("region") == news.get("region"):
            result.failures.append(
                CheckFailure(
                    "size_gb", f"a Fly volume can grow but not shrink ({olds['size_gb']} GB → {news['size_gb']} GB)"
                )
            )
        return result

    def create(self, props: dict[str, Any]) -> CreateResult:
        args = VolumeArgs.parse(props)
        request: dict[str, Any] = {
            "name": args.name,
            "region": args.region,
            "size_gb": args.size_gb,
            "encrypted": args.encrypted,
        }
        if args.snapshot_retention is not None:
            request["snapshot_retention"] = args.snapshot_retention
        fly = self.fly()
        if args.restore_snapshot:
            request["snapshot_id"] = args.restore_snapshot
        elif args.restore_from_volume:
            snapshots = fly.list_volume_snapshots(args.app, args.restore_from_volume)
            if not snapshots:
                raise SnapshotError(
                    f"restore: latest, but the departed volume {args.restore_from_volume} of {args.app} has no snapshot"
                )
            request["snapshot_id"] = max(snapshots, key=lambda snapshot: snapshot["created_at"])["id"]

        def find() -> dict | None:
            return next(
                (
                    v
                    for v in fly.list_volumes(args.app) or []
                    if v["name"] == args.name
                    and v["region"] == args.region
                    and (args.adopt or not v.get("attached_machine_id"))
                    and v.get("state") != "destroyed"
                ),
                None,
            )

        volume = fly.find_or_create(find, lambda: fly.create_volume(args.app, request), wait_out=frozenset({404}))
        return CreateResult(volume["id"], outs=_state(args, volume, request.get("snapshot_id")))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        replaces = [key for key in REPLACE_FIELDS if olds.get(key) != news.get(key)]
        if news.get("restore_snapshot") and news.get("restore_snapshot") != olds.get("restore_snapshot"):
            replaces.append("restore_snapshot")  # a restore asked for this run; unset again, nothing changes
        in_place = any(olds.get(key) != news.get(key) for key in IN_PLACE_FIELDS + POLICY_FIELDS)
        return DiffResult(changes=bool(replaces) or in_place, replaces=replaces)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        old, args = VolumeState.parse(olds), VolumeArgs.parse(news)
        volume = {"attached_machine_id": old.attached_machine_id, "state": old.state}  # a policy change alone
        fly = self.fly()
        if old.size_gb != args.size_gb:
            volume = fly.extend_volume(args.app, id_, args.size_gb)
        if old.snapshot_retention != args.snapshot_retention and args.snapshot_retention is not None:
            volume = fly.update_volume(args.app, id_, {"snapshot_retention": args.snapshot_retention})
        return UpdateResult(outs=_state(args, volume, old.snapshot_id))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        fly = self.fly()
        volume = fly.get_volume(props["app"], id_)
        if volume is None or volume.get("state") == "destroyed":
            return ReadResult(None, {})
        return ReadResult(
            id_,
            {
                **props,
                "attached_machine_id": volume.get("attached_machine_id"),
                "state": volume.get("state"),
                "region": volume["region"],
                "size_gb": volume["size_gb"],
                "encrypted": volume.get("encrypted", props.get("encrypted")),
            },
        )

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        fly = self.fly()
        if props.get("deprovision") == "snapshot":
            fly.create_volume_snapshot(props["app"], id_)
        fly.delete_volume(props["app"], id_)


def _state(args: VolumeArgs, volume: dict[str, Any], snapshot_id: str | None) -> dict[str, Any]:
    return VolumeState(
        **args.props(),
        attached_machine_id=volume.get("attached_machine_id"),
        state=volume.get("state"),
        snapshot_id=snapshot_id,
    ).props()


PROVIDER = VolumeProvider()  # what the resources' ``__provider`` names (base.serialized_provider)


class Volume(FleetResource, module="fly", name="Volume"):
    """An encrypted Fly volume of an app."""

    dynamic_provider, state_type = PROVIDER, VolumeState
    attached_machine_id: pulumi.Output[str]
