"""openclaw-fleet: a roster in, one isolated OpenClaw gateway per user out.

Read the stack's settings and this shard's users → refuse a mass deletion or an inherited
gateway → build and push the gateway image → one gateway component per user → export what the
``fleet`` command and the next run read (``openclaw_fleet/outputs.py``).
"""

import os
from datetime import date
from pathlib import Path

import pulumi

from openclaw_fleet import sdk_workarounds
from openclaw_fleet.departures import stale_restores
from openclaw_fleet.environment import DIGEST
from openclaw_fleet.gateway import GatewayArgs, create_gateway
from openclaw_fleet.gateway.image import GatewayImage, GatewayImageArgs
from openclaw_fleet.outputs import MachineRow, RosterRow, UserOutputs, row
from openclaw_fleet.roster import RosterError, instance_name, load_roster
from openclaw_fleet.secret_sources import check_references
from openclaw_fleet.settings import StackSettings, provider_key_values
from openclaw_fleet.shards import parse_shard_stack, shard_of
from openclaw_fleet.stack_outputs import Departures, export, only_users
from openclaw_fleet.user_images import image_for, record, release_choices, restore_snapshots

sdk_workarounds.for_program()
settings = StackSettings.load()
try:
    users = load_roster(settings.roster)
    check_references(users, settings.secret_sources, Path(settings.roster), f"Pulumi.{pulumi.get_stack()}.yaml")
except RosterError as error:
    raise pulumi.RunError(str(error)) from None
_, shard, shard_count = parse_shard_stack(pulumi.get_stack())
if shard_count != settings.shards:
    raise pulumi.RunError(
        f"openclaw-fleet:shards is {settings.shards} but stack {pulumi.get_stack()} is shard {shard} of "
        f"{shard_count}; run `bin/fleet up`, which runs every shard's stack with the base stack's config"
    )
users = [user for user in users if shard_of(user.id, shard_count) == shard]
names = {user.id: instance_name(settings.name_prefix, user.id) for user in users}
# Every secret reference and both guards are checked before the first resource is registered,
# so a missing key, a refused mass deletion or an inherited gateway changes nothing.
keys = {user.id: provider_key_values(user, settings.secret_sources) for user in users}
only = only_users()  # `fleet --user`: the users this run touches (None: every user)
departures = Departures(
    {user.id: (names[user.id], user.line, user.adopt) for user in users},
    settings.mass_deletion_share,
    settings.mass_deletion_minimum,
    settings.roster,
    only,
)
previous = departures.previous
if only is not None:
    # The engine touches only the named users' resources (the command targets them); the others
    # already in the stack are declared as they are and carried over; a new one waits for a full run.
    users = [user for user in users if user.id in only or user.id in previous.roster_state]


def touched(user_id: str) -> bool:
    """Whether this run writes the user's records (else the last update's are carried over)."""
    return only is None or user_id in only


if settings.target == "fly":
    returning = [user.id for user in users if user.restore == "latest"]
    stale = stale_restores(returning, departures.left_before, settings.snapshot_retention_days, date.today())
    for user_id, days in stale.items():
        pulumi.log.warn(
            f"user {user_id} returns with restore: latest but left {days} days ago, longer than Fly keeps volume "
            f"snapshots (openclaw-fleet:snapshotRetentionDays {settings.snapshot_retention_days}): the snapshot "
            "may be gone, and then creating the volume fails naming it"
        )

image = GatewayImage(
    "gateway",
    GatewayImageArgs(
        Path("image").resolve(),
        settings.registry,
        {"BASE_IMAGE": settings.base_image},
        platform="linux/amd64" if settings.target == "fly" else None,  # Fly Machines run amd64 only
    ),
)
# Each user keeps the image recorded for them until `fleet rollout` releases them (user_images.py).
recorded_images = previous.user_images
choices = release_choices()
restores = restore_snapshots()  # `fleet rollout --back USER --restore` on Fly
images = {user.id: image_for(user.id, image.ref, recorded_images, choices) for user in users}
gateways = {
    user.id: create_gateway(
        names[user.id],
        GatewayArgs(
            user=user,
            image_ref=images[user.id],
            settings=settings,
            provider_keys=keys[user.id],
            departed_volume_id=getattr(departures.left_before.get(user.id), "volume_id", None),
            returning=user.id in departures.left_before,
            restore_snapshot=restores.get(user.id),
        ),
    )
    for user in users
}

export(
    image=image.ref,
    user_images={
        **{uid: kept.model_dump(exclude_unset=True) for uid, kept in recorded_images.items() if not touched(uid)},
        **{user.id: record(user.id, images[user.id], recorded_images) for user in users if touched(user.id)},
    },
    # what `fleet up --changed` compares with to skip a shard nothing touched (a run of some users
    # leaves the others as they were: the last full run's digest stands)
    fleet_digest=(os.environ.get(DIGEST) or None) if only is None else previous.fleet_digest,
    users={
        user_id: row(
            UserOutputs,
            gateway_url=gateway.gateway_url,
            token=gateway.token,
            instance_id=gateway.instance_id,
            volume_id=gateway.volume_id,
            state=gateway.state,
        )
        for user_id, gateway in gateways.items()
    },
    # What the next run compares the roster with: no secret in it, provider keys by source name.
    roster_state={
        **{uid: kept.as_written() for uid, kept in previous.roster_state.items() if not touched(uid)},
        **{
            user.id: row(
                RosterRow,
                name=gateways[user.id].name,
                volume_id=gateways[user.id].volume_id,
                **user.recorded(settings.target, settings.volume_size_gb),
            )
            for user in users
            if touched(user.id)
        },
    },
    departed=departures.departed,  # who left with a volume kept, until they return
    machines=[  # one row per user for the service's own database (`bin/fleet machines`)
        row(
            MachineRow,
            id=gateways[user.id].instance_id,
            user_id=user.id,
            app_name=gateways[user.id].name,
            region=user.region,
            volume_id=gateways[user.id].volume_id,
            status=gateways[user.id].state,
            gateway_url=gateways[user.id].gateway_url,
            gateway_token=gateways[user.id].token,
        )
        for user in users
    ],
)
