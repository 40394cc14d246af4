"""openclaw-fleet: a roster in, one isolated OpenClaw gateway per user out.

Load the stack's settings and roster (this shard's users, when the roster is split over several
stacks) → refuse a mass deletion → build and push the gateway
image → one gateway component per user → export the users, what departed users left, and one
control-plane row per user.
"""

import os
from datetime import date
from pathlib import Path

import pulumi

from openclaw_fleet.departures import Departures, stale_restores
from openclaw_fleet.gateway import GatewayArgs, create_gateway
from openclaw_fleet.gateway.image import GatewayImage, GatewayImageArgs
from openclaw_fleet.rollout import image_for, record, release_choices
from openclaw_fleet.roster import RosterError, instance_name, load_roster
from openclaw_fleet.sdk_at_scale import (
    fewer_garbage_collections,
    outputs_awaited_together,
    without_declaration_sites,
    without_sdk_debug_logs,
)
from openclaw_fleet.secret_sources import check_references
from openclaw_fleet.settings import StackSettings, provider_key_values
from openclaw_fleet.shards import parse_shard_stack, shard_of

fewer_garbage_collections()
without_declaration_sites()
without_sdk_debug_logs()
outputs_awaited_together()
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
# Every secret reference and the deletion guard are checked before the first resource is
# registered, so a missing key or a refused mass deletion changes nothing.
keys = {user.id: provider_key_values(user, settings.secret_sources) for user in users}
departures = Departures(
    {user.id: (instance_name(settings.name_prefix, user.id), user.line, user.adopt) for user in users},
    settings.mass_deletion_share,
    settings.mass_deletion_minimum,
    settings.roster,
)
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
# Each user keeps the image recorded for them until `fleet rollout` releases them (rollout.py).
recorded_images = departures.previous.get("user_images") or {}
choices = release_choices()
images = {user.id: image_for(user.id, image.ref, recorded_images, choices) for user in users}
gateways = {
    user.id: create_gateway(
        instance_name(settings.name_prefix, user.id),
        GatewayArgs(
            user=user,
            image_ref=images[user.id],
            settings=settings,
            provider_keys=keys[user.id],
            departed_volume_id=(departures.left_before.get(user.id) or {}).get("volume_id"),
            returning=user.id in departures.left_before,
        ),
    )
    for user in users
}

pulumi.export("image", image.ref)
pulumi.export("user_images", {user.id: record(user.id, images[user.id], recorded_images) for user in users})
# What `fleet up --changed` compares with to skip a shard nothing touched (set by the fleet command).
if os.environ.get("OPENCLAW_FLEET_DIGEST"):
    pulumi.export("fleet_digest", os.environ["OPENCLAW_FLEET_DIGEST"])
pulumi.export(
    "users",
    {
        user_id: {
            "gateway_url": gateway.gateway_url,
            "token": gateway.token,
            "instance_id": gateway.instance_id,
            "volume_id": gateway.volume_id,
            "state": gateway.state,
        }
        for user_id, gateway in gateways.items()
    },
)
# What the next run compares the roster with, and `fleet preview` shows changes and costs
# against (no secrets in it, provider keys by name only, so it is read without them).
pulumi.export(
    "roster_state",
    {
        user.id: {
            "name": gateways[user.id].name,
            "volume_id": gateways[user.id].volume_id,
            **user.recorded(settings.target, settings.volume_size_gb),
        }
        for user in users
    },
)
# Users who left with a volume kept or snapshotted (their deprovision policy), until they return.
pulumi.export("departed", departures.departed)
# One row per user for the service's own database (`bin/fleet machines`).
pulumi.export(
    "machines",
    [
        {
            "id": gateways[user.id].instance_id,
            "user_id": user.id,
            "app_name": gateways[user.id].name,
            "region": user.region,
            "volume_id": gateways[user.id].volume_id,
            "status": gateways[user.id].state,
            "gateway_url": gateways[user.id].gateway_url,
            "gateway_token": gateways[user.id].token,
        }
        for user in users
    ],
)
