"""openclaw.json rendering (seeds 001, 003)."""

import json

from components.openclaw_config import render_config, render_config_text
from components.roster import User


def user(**overrides) -> User:
    fields = dict(id="user_1", name="A", short_id="1", state="running", region="sjc", size="small",
                  model="openai/gpt-5.1", provider_keys={}, whatsapp_owner=None, env={}, line=1)
    return User(**{**fields, **overrides})


def test_gateway_uses_token_auth_from_env_and_lan_bind():
    config = render_config(user(), ["https://a.fly.dev"])
    assert config["gateway"]["bind"] == "lan"
    assert config["gateway"]["auth"] == {"mode": "token", "token": "${OPENCLAW_GATEWAY_TOKEN}"}
    assert config["gateway"]["controlUi"]["allowedOrigins"] == ["https://a.fly.dev"]
    assert config["agents"]["defaults"]["model"]["primary"] == "openai/gpt-5.1"


def test_whatsapp_allowlist_only_with_an_owner():
    assert "channels" not in render_config(user(), [])
    config = render_config(user(whatsapp_owner="+15551234567"), [])
    assert config["channels"]["whatsapp"] == {"dmPolicy": "allowlist", "allowFrom": ["+15551234567"]}


def test_text_is_stable_json_and_changes_with_the_model():
    a = render_config_text(user(), [])
    assert a == render_config_text(user(), [])
    assert json.loads(a)["agents"]["defaults"]["model"]["primary"] == "openai/gpt-5.1"
    assert a != render_config_text(user(model="anthropic/claude-opus-4-6"), [])
