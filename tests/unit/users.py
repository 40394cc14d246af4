"""Resolved roster users and stack settings for unit tests, without a roster file or a stack."""

from openclaw_fleet.roster import User
from openclaw_fleet.settings import StackSettings


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


def stack_settings(**overrides) -> StackSettings:
    """A Docker stack's settings (prefix ``automna``, label ``openclaw-fleet/test``, one shard);
    ``overrides`` set any field (``target="fly"``)."""
    fields = dict(
        target="docker",
        roster="r.yaml",
        name_prefix="automna",
        registry="reg",
        fly_org="personal",
        volume_size_gb=1,
        mass_deletion_share=0.2,
        mass_deletion_minimum=3,
        snapshot_dir="/tmp/snap",
        base_image="b",
        publish_host=None,
        health_timeout_s=240,
        pids_limit=512,
        restart_policy="unless-stopped",
        stack="test",
        project="openclaw-fleet",
        fly_api_url="https://api.machines.dev",
        docker_host="unix:///var/run/docker.sock",
        shards=1,
    )
    return StackSettings(**{**fields, **overrides})
