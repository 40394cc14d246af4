"""Users leaving the roster: the mass-deletion guard and the record of what they left behind.

Both compare the roster with the stack's own outputs from its last update (a StackReference to
itself), so ``preview`` sees them too; ``pulumi destroy`` does not run the program.

- Guard: when a run would remove more than ``share`` of the stack's users and at least
  ``minimum`` of them (defaults 20 %, 3 users), ``preview`` and ``up`` fail naming the count and
  the users, unless the run sets ``OPENCLAW_FLEET_ALLOW_MASS_DELETION=1``.
- Record (stack output ``departed``): per departed user whose policy was ``retain`` or
  ``snapshot``, the policy, instance name and volume id; kept across runs until the user comes
  back, when ``restore: latest`` uses it (seed 002's recreate-from-snapshot).
"""

import os

import pulumi

OVERRIDE_ENV = "OPENCLAW_FLEET_ALLOW_MASS_DELETION"


def check_deletions(previous: list[str], current: list[str], share: float, minimum: int, override: bool) -> None:
    """Raise pulumi.RunError when removing ``previous`` − ``current`` is a mass deletion not overridden."""
    removed = sorted(set(previous) - set(current))
    if override or len(removed) < minimum or len(removed) <= share * len(previous):
        return
    raise pulumi.RunError(
        f"this run would delete {len(removed)} of {len(previous)} users ({', '.join(removed)}), more than "
        f"{share:.0%} of the stack; if that is intended, run again with {OVERRIDE_ENV}=1"
    )


def departed_record(previous_users: dict, previous_departed: dict, current: list[str]) -> dict:
    """Who left with something kept: user id → {policy, name, volume_id}. Users back in the roster drop out."""
    record = {uid: row for uid, row in previous_departed.items() if uid not in current}
    for uid, row in previous_users.items():
        if uid not in current and row.get("deprovision") in ("retain", "snapshot"):
            record[uid] = {"policy": row["deprovision"], "name": row.get("name"), "volume_id": row.get("volume_id")}
    return record


class Departures:
    """The previous run's outputs, read once. ``allowed`` resolves to True or fails the run;
    ``departed`` is the record to export; ``left_before`` is the previous record, where a
    returning user's old volume is found."""

    def __init__(self, current: list[str], share: float, minimum: int):
        me = pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}")
        override = os.environ.get(OVERRIDE_ENV) == "1"
        previous_users = me.get_output("users").apply(lambda users: users or {})

        def check(users: dict) -> bool:
            check_deletions(list(users), current, share, minimum, override)
            return True

        # The stack's outputs are secret (they hold tokens); the verdict and the record are not,
        # and must not make the gateways' inputs secret (a secret `image` would count as a change).
        self.allowed = pulumi.Output.unsecret(previous_users.apply(check))
        self.left_before = pulumi.Output.unsecret(me.get_output("departed").apply(lambda record: record or {}))
        self.departed = pulumi.Output.unsecret(pulumi.Output.all(previous_users, self.left_before).apply(
            lambda args: departed_record(args[0], args[1], current)))
