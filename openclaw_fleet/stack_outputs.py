"""The program's side of its stack outputs: the last update's, read when it starts (and who has
departed since: the rules are ``departures.py``'s pure functions, this module does the reading),
and this run's, exported by ``StackOutputs``' field names."""

import json
import os
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pulumi

from openclaw_fleet.departures import OVERRIDE_ENV, departed_record, inherited, mass_deletion
from openclaw_fleet.environment import ONLY_USERS, flag, json_from
from openclaw_fleet.environment import PREVIOUS_OUTPUTS as PREVIOUS_OUTPUTS_ENV
from openclaw_fleet.errors import FleetError
from openclaw_fleet.outputs import DepartedRow, StackOutputs


def previous_outputs() -> StackOutputs:
    """The stack's outputs from its last update, without secrets (``pulumi stack output --json``).

    Read once, when the program starts and before any resource is registered (a StackReference to
    the stack itself races the engine's own checkpoint writes on the file backend). Raises
    pulumi.RunError when they cannot be read or have another shape.

    In a preview that ``fleet`` runs, the outputs ``fleet`` has just read the same way come from
    the JSON file ``OPENCLAW_FLEET_PREVIOUS_OUTPUTS`` names (stack name → outputs): one Pulumi
    CLI run less per shard. A preview holds no lock either way. An update always reads them
    itself, under its lock.
    """
    handed = os.environ.get(PREVIOUS_OUTPUTS_ENV)
    outputs = None
    if handed and pulumi.runtime.is_dry_run():
        outputs = json.loads(Path(handed).read_text()).get(pulumi.get_stack())
    if outputs is None:
        outputs = _read_outputs()
    try:
        return StackOutputs.parse(outputs, pulumi.get_stack())
    except FleetError as error:
        raise pulumi.RunError(str(error)) from None


def _read_outputs() -> dict:
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", pulumi.get_stack()],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if result.returncode != 0:
        raise pulumi.RunError(f"could not read the stack's previous outputs: {result.stderr.strip()[-500:]}")
    return json.loads(result.stdout or "{}")


class Departures:
    """Who left since the last update. ``users``: this run's users, id → (instance name, roster
    line, adopt), as ``inherited`` takes them; ``roster``: the roster file's path; ``only``: the
    users a ``fleet --user`` run touches (None: all), the others staying as they are. Construction
    raises pulumi.RunError for a refused mass deletion, and for a user who would inherit another's
    gateway (``inherited``); ``departed`` is the record to export; ``left_before`` the previous
    record, where a returning user's old volume is found; ``previous`` all the last update's outputs."""

    departed: dict[str, dict]
    left_before: dict[str, DepartedRow]
    previous: StackOutputs

    def __init__(
        self,
        users: dict[str, tuple[str, int, bool]],
        share: float,
        minimum: int,
        roster: str,
        only: frozenset[str] | None = None,
    ):
        self.previous = previous = previous_outputs()
        previous_users = previous.roster_state
        # A run of some users (``only``) leaves every other user of the stack where they are.
        staying = list(users) + [uid for uid in previous_users if only is not None and uid not in only]
        refused = mass_deletion(list(previous_users), staying, share, minimum, flag(OVERRIDE_ENV))
        if refused:
            raise pulumi.RunError(refused)
        self.left_before = previous.departed
        problems = inherited(roster, users, previous_users, self.left_before)
        if problems:
            raise pulumi.RunError("\n".join(problems))
        self.departed = departed_record(previous_users, self.left_before, staying, date.today().isoformat())


def export(**outputs: Any) -> None:
    """``pulumi.export`` each of ``outputs`` under its ``StackOutputs`` field's name (a value of
    None is not exported); raises TypeError naming an output ``StackOutputs`` does not have, so
    the program and the command cannot drift apart."""
    unknown = set(outputs) - set(StackOutputs.model_fields)
    if unknown:
        raise TypeError(f"StackOutputs has no output {', '.join(sorted(unknown))}")
    for name, value in outputs.items():
        if value is not None:
            pulumi.export(name, value)


def only_users() -> frozenset[str] | None:
    """The users this run touches (``OPENCLAW_FLEET_ONLY_USERS``, a JSON list of ids, set by
    ``fleet --user``, which also targets only their resources: ``pulumi --target``); None when
    unset, for a run of every user. Raises pulumi.RunError for anything but a list of ids."""
    try:
        ids = json_from(
            ONLY_USERS,
            lambda value: isinstance(value, list) and all(isinstance(uid, str) for uid in value),
            "a JSON list of user ids",
        )
    except ValueError as error:
        raise pulumi.RunError(str(error)) from None
    return None if ids is None else frozenset(ids)
