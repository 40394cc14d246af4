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

import json
import os

import pulumi

from openclaw_fleet.environment import RELEASE as RELEASE_ENV
from openclaw_fleet.environment import RESTORE as RESTORE_ENV
from openclaw_fleet.outputs import ImageRecord, row

CHOICES = ("built", "previous")


def release_choices() -> dict[str, str]:
    """``OPENCLAW_FLEET_RELEASE`` as user id → choice; {} when unset. Raises pulumi.RunError for
    anything but a JSON object of CHOICES."""
    text = os.environ.get(RELEASE_ENV)
    if not text:
        return {}
    try:
        choices = json.loads(text)
    except json.JSONDecodeError:
        choices = None
    if not isinstance(choices, dict) or any(choice not in CHOICES for choice in choices.values()):
        raise pulumi.RunError(f"{RELEASE_ENV} must be a JSON object of user id → one of {', '.join(CHOICES)}")
    return choices


def restore_snapshots() -> dict[str, str]:
    """``OPENCLAW_FLEET_RESTORE`` as user id → Fly volume snapshot id; {} when unset. Raises
    pulumi.RunError for anything but a JSON object of strings."""
    text = os.environ.get(RESTORE_ENV)
    if not text:
        return {}
    try:
        snapshots = json.loads(text)
    except json.JSONDecodeError:
        snapshots = None
    if not isinstance(snapshots, dict) or not all(isinstance(value, str) for value in snapshots.values()):
        raise pulumi.RunError(f"{RESTORE_ENV} must be a JSON object of user id → volume snapshot id")
    return snapshots


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
