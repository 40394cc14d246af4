"""openclaw.json rendering: token by reference, the user's model, the WhatsApp allowlist."""

import json

from openclaw_fleet.gateway.openclaw_config import render_config, render_config_text
from tests.unit.users import user


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
