"""The mass-deletion guard: a roster change may not silently delete a large share of the fleet.

When a run would remove more than ``share`` of the stack's users and at least ``minimum`` of them
(defaults: 20 %, 3 users), ``preview`` and ``up`` fail naming the count and the users, unless the
run sets ``OPENCLAW_FLEET_ALLOW_MASS_DELETION=1``. The previous users are the stack's own last
``users`` output. ``pulumi destroy`` does not run the program and is not guarded.
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


def guard_deletions(current: list[str], share: float, minimum: int) -> pulumi.Output[bool]:
    """Compare the roster with the stack's last ``users`` output; resolves to True or fails the run."""
    me = pulumi.StackReference(f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}")
    override = os.environ.get(OVERRIDE_ENV) == "1"

    def check(previous: dict | None) -> bool:
        check_deletions(list(previous or {}), current, share, minimum, override)
        return True

    # The stack's outputs are secret (they hold tokens); the verdict is not, and must not make
    # the gateways' inputs secret (a secret `image` would count as a change).
    return pulumi.Output.unsecret(me.get_output("users").apply(check))
