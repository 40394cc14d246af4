"""A rollout's health gate, asked of OpenClaw itself inside each moved gateway.

The machine's checks (Fly) and ``GET /health`` (Docker) only say that the gateway process answers.
After a wave, each moved gateway is also asked, through Fly's ``POST …/machines/{id}/exec`` or the
Docker Engine's exec, what OpenClaw says of itself:

- ``openclaw health --json`` (https://docs.openclaw.ai/cli/health): ``ok``, no plugin that failed to
  load, the model runtime and the event loop not ``degraded``, and no channel (WhatsApp,
  Telegram, …) with an error;
- ``openclaw models status --json`` (https://docs.openclaw.ai/cli/models): the default model is the
  one the roster gives the user, so an upgrade that lost the user's model choice stops the rollout.

A gateway that cannot be asked (the exec fails or times out) does not pass. A gateway that has just
started may still say it is degraded (its event loop, on a busy host, or its model runtime while
agents load), so each is asked again every few seconds until it passes or ``patience_s`` is over:
what fails the gate is what lasts.
"""

from __future__ import annotations

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from openclaw_fleet.errors import FleetError
from openclaw_fleet.providers.docker.client import DockerClient
from openclaw_fleet.providers.fly.client import FlyClient

ASK_TIMEOUT_S = 120  # a CLI run in the gateway: node starts, reads its state, asks the running gateway


@dataclass(frozen=True)
class Gateway:
    """A moved user's gateway: ``user_id``, the ``model`` the roster gives them, where it runs
    (Fly ``app`` + ``machine_id``; Docker: ``machine_id`` is the container id)."""

    user_id: str
    model: str
    app: str
    machine_id: str


def health_problems(health: dict) -> list[str]:
    """What ``openclaw health --json`` says is wrong, in words ([] when nothing)."""
    problems = [] if health.get("ok") is True else ["OpenClaw health is not ok"]
    plugin_errors = (health.get("plugins") or {}).get("errors") or []
    problems += [f"plugin failed to load: {str(error)[:200]}" for error in plugin_errors[:3]]
    for part in ("modelRuntime", "eventLoop"):
        if (health.get(part) or {}).get("degraded"):
            problems.append(f"{part} degraded")
    for name, channel in sorted((health.get("channels") or {}).items()):
        error = isinstance(channel, dict) and (channel.get("lastError") or channel.get("error"))
        if error:
            problems.append(f"channel {name}: {str(error)[:200]}")
    return problems


def model_problems(status: dict, model: str) -> list[str]:
    """What ``openclaw models status --json`` says against the roster's ``model`` ([] when it runs it)."""
    running = status.get("resolvedDefault") or status.get("defaultModel")
    return [] if running == model else [f"runs model {running}, the roster says {model}"]


def ask(client: FlyClient | DockerClient, gateway: Gateway, command: list[str]) -> dict:
    """Run an ``openclaw … --json`` command in the gateway; its JSON. Raises FleetError (the
    exec failed) or ValueError (exit code or output not JSON)."""
    argv = ["timeout", str(ASK_TIMEOUT_S), *command]
    if isinstance(client, FlyClient):
        result = client.exec(gateway.app, gateway.machine_id, argv, ASK_TIMEOUT_S + 10, idempotent=True)
        code, output = result.exit_code, result.stdout
    else:
        code, output = client.exec_run(gateway.machine_id, argv, timeout_s=ASK_TIMEOUT_S + 10)
    if code != 0:
        raise ValueError(f"`{' '.join(command)}` exited {code}: {output.strip()[-200:]}")
    document = re.search(r"^\{", output, re.MULTILINE)  # Docker's stream holds stderr's lines too
    return json.loads(output[document.start() :] if document else output)


def problems_of(client: FlyClient | DockerClient, gateway: Gateway) -> list[str]:
    """Every health-gate problem of one gateway ([] when it passes)."""
    try:
        problems = health_problems(ask(client, gateway, ["openclaw", "health", "--json"]))
        return problems + model_problems(
            ask(client, gateway, ["openclaw", "models", "status", "--json"]), gateway.model
        )
    except (FleetError, ValueError) as error:
        return [f"OpenClaw could not be asked: {str(error)[:300]}"]


def patiently(client: FlyClient | DockerClient, gateway: Gateway, patience_s: float, every_s: float) -> list[str]:
    """``problems_of`` the gateway until it has none or ``patience_s`` seconds have passed; the last."""
    deadline = time.monotonic() + patience_s
    while True:
        problems = problems_of(client, gateway)
        if not problems or time.monotonic() + every_s > deadline:
            return problems
        time.sleep(every_s)


def check(
    client: FlyClient | DockerClient,
    gateways: list[Gateway],
    patience_s: float = 120.0,
    every_s: float = 5.0,
    at_once: int = 8,
) -> dict[str, list[str]]:
    """User id → problems, for each of ``gateways`` that has not passed within ``patience_s``
    seconds (asked again every ``every_s``; ``at_once`` gateways at a time)."""
    with ThreadPoolExecutor(max_workers=at_once) as pool:
        found = pool.map(lambda gateway: (gateway.user_id, patiently(client, gateway, patience_s, every_s)), gateways)
        return {user_id: problems for user_id, problems in found if problems}
