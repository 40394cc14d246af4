"""Resolved roster users for unit tests, without a roster file."""

from openclaw_fleet.roster import User


def user(**overrides) -> User:
    """A running ``small`` user in ``sjc`` on ``openai/gpt-5.1``; ``overrides`` set any field."""
    fields = dict(
        id="user_1",
        name="A",
        short_id="1",
        state="running",
        region="sjc",
        size="shared-cpu-1x",
        model="openai/gpt-5.1",
        provider_keys={},
        whatsapp_owner=None,
        env={},
        line=1,
    )
    return User(**{**fields, **overrides})
