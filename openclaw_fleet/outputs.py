"""The stack outputs: what the program (``__main__.py``) writes and the ``fleet`` command reads back.

One model per output; the program builds each row with ``row(Model, **fields)`` (a field the
model does not have fails at once, in the program), and the command parses a stack's outputs
with ``StackOutputs.parse``. Every model ignores keys it does not know, so a stack written by a
newer version still reads; fields added later have defaults, so a stack written by an older one
does too. No model holds a secret except ``UserOutputs.token`` and ``MachineRow.gateway_token``,
which are ``"[secret]"`` unless read with secrets shown.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from openclaw_fleet.errors import FleetError


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RosterRow(_Output):
    """``roster_state[user id]``: what the last update recorded of a user (``User.recorded``) for the
    next plan to compare with, besides the instance ``name`` and ``volume_id``. ``provider_keys`` is
    env name → secret source name (a list of names in stacks before secret sources)."""

    name: str | None = None
    volume_id: str | None = None
    target: str | None = None
    state: str = "running"
    region: str | None = None
    size: str | None = None
    memory_mb: int | None = None
    model: str | None = None
    provider_keys: dict[str, str] | list[str] | None = None
    volume_gb: int | None = None
    deprovision: str | None = None
    whatsapp_owner: str | None = None
    env: dict[str, str] | None = None
    telegram_pairings: list[str] | None = None
    adopt: bool | None = None
    restore: str | None = None

    def as_written(self) -> dict[str, Any]:
        """The row as the program wrote it: the keys it wrote, and only those."""
        return self.model_dump(exclude_unset=True)


class DepartedRow(_Output):
    """``departed[user id]``: a user who left with their volume kept (``retain``) or snapshotted."""

    policy: str
    name: str | None = None
    volume_id: str | None = None
    left_on: str | None = None  # ISO date


class ImageRecord(_Output):
    """``user_images[user id]``: the image a user's gateway runs and the one before (``user_images.py``)."""

    image: str | None = None
    previous: str | None = None


class UserOutputs(_Output):
    """``users[user id]``: the user's gateway as the service reaches it."""

    gateway_url: str | None = None
    token: str | None = None
    instance_id: str | None = None
    volume_id: str | None = None
    state: str | None = None


class MachineRow(_Output):
    """``machines[]``: one row per user for the service's own database (``fleet machines``)."""

    id: str | None = None
    user_id: str
    app_name: str | None = None
    region: str | None = None
    volume_id: str | None = None
    status: str | None = None
    gateway_url: str | None = None
    gateway_token: str | None = None


class StackOutputs(_Output):
    """All outputs of one stack; a stack with no update yet has none (every field empty)."""

    image: str | None = None
    user_images: dict[str, ImageRecord] = {}
    fleet_digest: str | None = None
    users: dict[str, UserOutputs] = {}
    roster_state: dict[str, RosterRow] = {}
    departed: dict[str, DepartedRow] = {}
    machines: list[MachineRow] = []

    @classmethod
    def parse(cls, values: dict[str, Any], stack: str) -> StackOutputs:
        """``values`` (``pulumi stack output --json``) as outputs. Raises FleetError naming the stack
        and the output that does not have the shape this version writes. An output masked whole
        (``"[secret]"``) reads as empty."""
        try:
            return cls.model_validate({key: value for key, value in values.items() if value not in (None, "[secret]")})
        except ValidationError as error:
            where = ", ".join(".".join(str(part) for part in problem["loc"]) for problem in error.errors()[:3])
            raise FleetError(f"stack {stack}: its outputs are not what this version reads ({where})") from None

    def image_of(self, user_id: str) -> str | None:
        """The image recorded for the user (None: none recorded)."""
        record = self.user_images.get(user_id)
        return record.image if record else None


def row(kind: type[_Output], /, **fields: Any) -> dict[str, Any]:
    """``fields`` as one row of ``kind`` for ``pulumi.export``; values may be Pulumi Outputs.
    Raises TypeError naming a field ``kind`` does not have."""
    unknown = set(fields) - set(kind.model_fields)
    if unknown:
        raise TypeError(f"{kind.__name__} has no field {', '.join(sorted(unknown))}")
    return fields
