"""openclaw-fleet: roster in, one isolated OpenClaw gateway per user out.

load the roster → refuse a mass deletion → build and push the gateway image → one UserInstance
per user → export the users, what departed users left, and the control-plane rows.
"""

from pathlib import Path

import pulumi

from components.departures import Departures
from components.image import GatewayImage
from components.roster import RosterError, load_roster
from components.stack_config import StackSettings, provider_key_values
from components.user_instance import UserInstance

settings = StackSettings.load()
try:
    users = load_roster(settings.roster)
except RosterError as error:
    raise pulumi.RunError(str(error)) from None
# Resolve every secret reference before the first resource is registered: a missing key stops
# the run with nothing changed.
keys = {user.id: provider_key_values(user) for user in users}

# Before the first resource: a refused mass deletion creates and changes nothing.
departures = Departures([user.id for user in users], settings.mass_deletion_share, settings.mass_deletion_minimum)

image = GatewayImage("gateway", Path("image").resolve(), settings.registry, {"BASE_IMAGE": settings.base_image})

instances = {
    user.id: UserInstance(user, image.ref, settings, keys[user.id],
                          (departures.left_before.get(user.id) or {}).get("volume_id"))
    for user in users
}

pulumi.export("image", image.ref)
pulumi.export("users", {
    user_id: {
        "gateway_url": instance.gateway_url,
        "token": instance.token,
        ("machine_id" if settings.target == "fly" else "container_id"): instance.instance_id,
        "volume_id": instance.volume_id,
        "state": instance.state,
    }
    for user_id, instance in instances.items()
})
# What the next run compares the roster with (no secrets in it, so it is read without them).
pulumi.export("roster_state", {
    user.id: {"name": instances[user.id].name, "deprovision": user.deprovision, "volume_id": instances[user.id].volume_id}
    for user in users
})
# Users who left with a volume kept or snapshotted (their deprovision policy), until they return.
pulumi.export("departed", departures.departed)
# Seed 000's `machines` table, one row per user, for the service's database (`bin/fleet machines`).
pulumi.export("machines", [
    {
        "id": instances[user.id].instance_id,
        "user_id": user.id,
        "app_name": instances[user.id].name,
        "region": user.region,
        "volume_id": instances[user.id].volume_id,
        "status": instances[user.id].state,
        "gateway_url": instances[user.id].gateway_url,
        "gateway_token": instances[user.id].token,
    }
    for user in users
])
