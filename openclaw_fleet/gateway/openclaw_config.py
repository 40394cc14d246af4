"""Render one user's ``openclaw.json`` (OpenClaw's JSON5 config; plain JSON is valid JSON5).

What goes in (OpenClaw's configuration reference: https://docs.openclaw.ai/gateway/configuration):
  - ``gateway``: ``bind: lan`` and token auth, the flags the gateway is started with, repeated in
    the config so a restart without flags keeps them; the token is ``${OPENCLAW_GATEWAY_TOKEN}``,
    which OpenClaw substitutes from the environment, so the file itself holds no secret;
    ``controlUi.allowedOrigins``, which recent versions need for a non-loopback bind.
  - ``agents.defaults.model.primary``: the user's ``provider/model``.
  - ``channels.whatsapp``: ``dmPolicy: allowlist`` with the owner's E.164 number, only when the
    roster names one, so only the owner can talk to a fresh WhatsApp-linked gateway.
"""

import json

from openclaw_fleet.roster import User

GATEWAY_PORT = 18789
TOKEN_REFERENCE = "${OPENCLAW_GATEWAY_TOKEN}"


def render_config(user: User, allowed_origins: list[str]) -> dict:
    """Return the config as a dict; ``allowed_origins`` are the browser origins of the gateway URL."""
    config: dict = {
        "gateway": {
            "bind": "lan",
            "port": GATEWAY_PORT,
            "auth": {"mode": "token", "token": TOKEN_REFERENCE},
            "controlUi": {"allowedOrigins": list(allowed_origins)},
        },
        "agents": {"defaults": {"model": {"primary": user.model}}},
    }
    if user.whatsapp_owner:
        config["channels"] = {"whatsapp": {"dmPolicy": "allowlist", "allowFrom": [user.whatsapp_owner]}}
    return config


def render_config_text(user: User, allowed_origins: list[str]) -> str:
    """The config as stable text (sorted keys), so an unchanged user never shows a diff."""
    return json.dumps(render_config(user, allowed_origins), indent=2, sort_keys=True) + "\n"
