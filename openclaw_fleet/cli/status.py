"""``fleet status``: every user over all shards as Fly or Docker report them now, against the plan.

What each stack's last update recorded (its outputs ``machines``, ``roster_state`` and
``user_images``) is the plan; what the Fly Machines API (``GET /apps/{app}/machines/{id}``) or the
Docker engine (``GET /containers/{id}/json``) answer now is the fleet. A user differs when their
machine or container is gone, not in the state the roster asks (running: Fly ``started``, Docker
``running``; stopped: Fly ``stopped`` or ``suspended``, Docker ``exited`` or ``created``), in
another region (Fly), on another image, or failing a health check. Reads only; changes nothing.
Each user that differs carries the command that repairs it (``repair``): drift the state has not
seen is read by a refresh and undone by the ``up`` after it (``fleet up --refresh``); a gateway
that runs as planned but fails its checks needs its logs, or its former image back.
The JSON document carries ``schema`` (``SCHEMA_VERSION``), raised when a field changes meaning.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace

from openclaw_fleet.errors import FleetError
from openclaw_fleet.outputs import StackOutputs
from openclaw_fleet.providers.docker.client import DockerClient
from openclaw_fleet.providers.fly.client import FlyClient

SCHEMA_VERSION = 1
_RUNNING = {"fly": {"started"}, "docker": {"running"}}
_STOPPED = {"fly": {"stopped", "suspended"}, "docker": {"exited", "created"}}


@dataclass(frozen=True)
class UserStatus:
    """One user: ``expected`` (state, region, image from the last update), ``live`` (what the
    target reports: found, state, region, image, checks), ``differs`` (each difference in words)."""

    user_id: str
    instance: str
    expected: dict
    live: dict = field(default_factory=dict)
    differs: list[str] = field(default_factory=list)
    repair: str | None = None  # the command (or words) that bring the user back to the plan


def planned(outputs_of_stacks: list[StackOutputs]) -> list[UserStatus]:
    """Every user the stacks' last updates recorded, with what the plan expects of them."""
    users = []
    for outputs in outputs_of_stacks:
        for machine in outputs.machines:
            uid = machine.user_id
            recorded = outputs.roster_state.get(uid)
            expected = {
                "instance_id": machine.id,
                "state": recorded.state if recorded else "running",
                "region": machine.region,
                "image": outputs.image_of(uid),
            }
            users.append(UserStatus(uid, machine.app_name or "", expected))
    return sorted(users, key=lambda user: user.user_id)


def fly_live(fly: FlyClient, app: str, machine_id: str) -> dict:
    """What Fly says of a machine now: found, state, region, image, checks (name → status)."""
    machine = fly.get_machine(app, machine_id)
    if machine is None:
        return {"found": False}
    checks = {check.get("name", "?"): check.get("status") for check in machine.get("checks") or []}
    image = (machine.get("config") or {}).get("image")
    return {
        "found": True,
        "state": machine.get("state"),
        "region": machine.get("region"),
        "image": image,
        "checks": checks,
    }


def docker_live(docker: DockerClient, container_id: str) -> dict:
    """What the Docker engine says of a container now: found, state, image, checks (health)."""
    container = docker.inspect_container(container_id)
    if container is None:
        return {"found": False}
    state = container.get("State") or {}
    health = (state.get("Health") or {}).get("Status")
    image = (container.get("Config") or {}).get("Image")
    return {"found": True, "state": state.get("Status"), "image": image, "checks": {"health": health} if health else {}}


def differences(target: str, expected: dict, live: dict) -> list[str]:
    """What differs between the plan and the target, in words ([] when nothing)."""
    if not live.get("found"):
        return [f"{'machine' if target == 'fly' else 'container'} {expected.get('instance_id')} is gone"]
    words = []
    wanted = _RUNNING[target] if expected["state"] == "running" else _STOPPED[target]
    if live.get("state") not in wanted:
        words.append(f"state {live.get('state')}, the roster says {expected['state']}")
    if target == "fly" and expected.get("region") and live.get("region") != expected["region"]:
        words.append(f"region {live.get('region')}, the roster says {expected['region']}")
    if expected.get("image") and live.get("image") != expected["image"]:
        words.append(f"image {live.get('image')}, the stack records {expected['image']}")
    if expected["state"] == "running" and live.get("state") in wanted:  # a stopped one's checks fail anyway
        words += [
            f"check {name} {status}"
            for name, status in sorted(live["checks"].items())
            if status not in ("passing", "healthy", "starting")  # starting: not judged yet (Docker's start period)
        ]
    return words


def repair(target: str, stack: str, user: UserStatus) -> str | None:
    """What brings a differing ``user`` back to the plan, as a command to run (None: nothing differs)."""
    if not user.differs:
        return None
    if user.live.get("found") is None:
        return (
            f"the {target} target could not be asked: check its token and address, then `bin/fleet status -s {stack}`"
        )
    drift = [words for words in user.differs if not words.startswith("check ")]
    if drift:
        return f"bin/fleet up --refresh -s {stack}"
    logs = f"fly logs -a {user.instance}" if target == "fly" else f"docker logs {user.instance}"
    return f"read its logs (`{logs}`); after an upgrade, `bin/fleet rollout --back {user.user_id} -s {stack}`"


def observe(
    users: list[UserStatus], target: str, stack: str, client: FlyClient | DockerClient, at_once: int = 16
) -> list[UserStatus]:
    """Each user with ``live``, ``differs`` and ``repair`` read from the target, ``at_once`` calls
    at a time, in the same order. A call that fails is recorded as the difference it is (``could
    not be read: …``), not raised."""

    def look(user: UserStatus) -> UserStatus:
        instance_id = user.expected.get("instance_id") or ""
        try:
            if target == "fly":
                live = fly_live(client, user.instance, instance_id)
            else:
                live = docker_live(client, instance_id)
        except FleetError as error:
            looked = replace(user, live={"found": None}, differs=[f"could not be read: {error}"])
        else:
            looked = replace(user, live=live, differs=differences(target, user.expected, live))
        return replace(looked, repair=repair(target, stack, looked))

    with ThreadPoolExecutor(max_workers=at_once) as pool:
        return list(pool.map(look, users))


def cohorts(users: list[UserStatus]) -> dict[str, list[str]]:
    """Image → the ids of the users whose gateway runs it now (as the target says, else as the
    stack records it): during a rollout, who runs which version."""
    found: dict[str, list[str]] = {}
    for user in users:
        found.setdefault(user.live.get("image") or user.expected.get("image") or "(unknown)", []).append(user.user_id)
    return dict(sorted(found.items(), key=lambda item: -len(item[1])))


def as_json(stack: str, target: str, users: list[UserStatus]) -> str:
    """The status document: ``schema``, ``stack``, ``target``, ``users`` (each ``UserStatus``),
    ``differing`` (the ids of users that differ), ``repairs`` (each repair command once),
    ``cohorts`` (image → users running it)."""
    document = {
        "schema": SCHEMA_VERSION,
        "stack": stack,
        "target": target,
        "differing": [user.user_id for user in users if user.differs],
        "repairs": sorted({user.repair for user in users if user.repair}),
        "cohorts": cohorts(users),
        "users": [asdict(user) for user in users],
    }
    return json.dumps(document, indent=2)


def as_text(users: list[UserStatus]) -> list[str]:
    """One line per user (state now, what the roster asks, and each difference), then a count,
    the cohorts (who runs which image), then each repair command with the users it repairs."""
    lines = []
    for user in users:
        live = user.live.get("state") or ("gone" if user.live.get("found") is False else "?")
        verdict = "; ".join(user.differs) if user.differs else "as planned"
        lines.append(f"{user.user_id} {user.instance}: {live} (roster: {user.expected['state']}): {verdict}")
    differing = [user.user_id for user in users if user.differs]
    lines.append(f"status: {len(users)} users, {len(differing)} differ from the plan")
    for image, ids in cohorts(users).items():
        lines.append(f"cohort {image}: {len(ids)} users ({', '.join(ids[:5])}{' …' if len(ids) > 5 else ''})")
    for command in sorted({user.repair for user in users if user.repair}):
        repaired = [user.user_id for user in users if user.repair == command]
        lines.append(f"repair ({', '.join(repaired[:10])}{' …' if len(repaired) > 10 else ''}): {command}")
    return lines
