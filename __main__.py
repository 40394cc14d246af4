"""openclaw-fleet: a roster in, one isolated OpenClaw gateway per user out.

Load the stack's settings and roster → refuse a mass deletion → build and push the gateway
image → one gateway component per user → export the users, what departed users left, and one
control-plane row per user.
"""

from pathlib import Path

import pulumi

from openclaw_fleet.departures import Departures
from openclaw_fleet.gateway import GatewayArgs, create_gateway
from openclaw_fleet.gateway.image import GatewayImage, GatewayImageArgs
from openclaw_fleet.roster import RosterError, instance_name, load_roster
from openclaw_fleet.settings import StackSettings, provider_key_values

settings = StackSettings.load()
try:
    users = load_roster(settings.roster)
except RosterError as error:
    raise pulumi.RunError(str(error)) from None
# Every secret reference and the deletion guard are checked before the first resource is
# registered, so a missing key or a refused mass deletion changes nothing.
keys = {user.id: provider_key_values(user) for user in users}
departures = Departures([user.id for user in users], settings.mass_deletion_share, settings.mass_deletion_minimum)

image = GatewayImage(
    "gateway", GatewayImageArgs(Path("image").resolve(), settings.registry, {"BASE_IMAGE": settings.base_image})
)
gateways = {
    user.id: create_gateway(
        instance_name(settings.name_prefix, user.id),
        GatewayArgs(
            user=user,
            image_ref=image.ref,
            settings=settings,
            provider_keys=keys[user.id],
            departed_volume_id=(departures.left_before.get(user.id) or {}).get("volume_id"),
        ),
    )
    for user in users
}

pulumi.export("image", image.ref)
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
# What the next run compares the roster with (no secrets in it, so it is read without them).
pulumi.export(
    "roster_state",
    {
        user.id: {
            "name": gateways[user.id].name,
            "deprovision": user.deprovision,
            "volume_id": gateways[user.id].volume_id,
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
