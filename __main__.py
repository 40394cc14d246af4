"""openclaw-fleet: roster in, one isolated OpenClaw gateway per user out.

load the roster → build and push the gateway image → one UserInstance per user → export.
"""

from pathlib import Path

import pulumi

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

image = GatewayImage("gateway", Path("image").resolve(), settings.registry, {"BASE_IMAGE": settings.base_image})

instances = {user.id: UserInstance(user, image.ref, settings, keys[user.id]) for user in users}

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
