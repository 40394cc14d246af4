"""Which gateway image each user runs: the record that makes image upgrades go out in waves.

The program builds the gateway image on every run, but a user already in the stack keeps the
image recorded for them (stack output ``user_images``: user id → ``{"image", "previous"}``) until
a rollout releases them: the ``fleet rollout`` command runs ``up`` with ``OPENCLAW_FLEET_RELEASE``
set to a JSON object, user id → ``"built"`` (move to the image this run built) or ``"previous"``
(go back to the image they ran before). So a plain ``pulumi up`` or ``fleet up`` between two
waves changes no user's image and never finishes a half-done rollout. A user new to the stack, or
one from before this record existed, gets the built image. ``OPENCLAW_FLEET_RESTORE`` (user id →
Fly volume snapshot) goes with ``previous`` for ``fleet rollout --back USER --restore``.
"""

from __future__ import annotations

import pulumi

from openclaw_fleet.environment import RELEASE as RELEASE_ENV
from openclaw_fleet.environment import RESTORE as RESTORE_ENV
from openclaw_fleet.environment import json_from
from openclaw_fleet.outputs import ImageRecord, row

CHOICES = ("built", "previous")


def release_choices() -> dict[str, str]:
    """``OPENCLAW_FLEET_RELEASE`` as user id → choice; {} when unset. Raises pulumi.RunError for
    anything but a JSON object of CHOICES."""
    return _mapping(RELEASE_ENV, lambda value: value in CHOICES, f"one of {', '.join(CHOICES)}")


def restore_snapshots() -> dict[str, str]:
    """``OPENCLAW_FLEET_RESTORE`` as user id → Fly volume snapshot id; {} when unset. Raises
    pulumi.RunError for anything but a JSON object of strings."""
    return _mapping(RESTORE_ENV, lambda value: isinstance(value, str), "volume snapshot id")


def _mapping(name: str, valid_value, values: str) -> dict[str, str]:
    """A JSON object of user id → value in environment variable ``name`` (``environment.json_from``)."""
    try:
        found = json_from(
            name,
            lambda value: isinstance(value, dict) and all(valid_value(item) for item in value.values()),
            f"a JSON object of user id → {values}",
        )
    except ValueError as error:
        raise pulumi.RunError(str(error)) from None
    return found or {}


def image_for(
    user_id: str, built: pulumi.Output[str], recorded: dict[str, ImageRecord], choices: dict[str, str]
) -> pulumi.Input[str]:
    """The image reference a user's gateway runs this time: the recorded one, unless released."""
    last = recorded.get(user_id) or ImageRecord()
    choice = choices.get(user_id)
    if not last.image or choice == "built":
        return built
    if choice == "previous" and last.previous:
        return last.previous
    return last.image


def record(user_id: str, given: pulumi.Input[str], recorded: dict[str, ImageRecord]) -> pulumi.Output[dict]:
    """The user's next ``user_images`` row (``ImageRecord``): the image given now and the one before it."""
    last = recorded.get(user_id) or ImageRecord()

    def next_row(image: str) -> dict:
        previous = last.image if last.image and last.image != image else last.previous
        return row(ImageRecord, image=image, previous=previous)

    return pulumi.Output.from_input(given).apply(next_row)
