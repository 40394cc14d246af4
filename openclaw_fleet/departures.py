"""Users leaving the roster: the rules of the mass-deletion guard and of the record of what they
left behind, as pure functions (the reads from the stack are ``stack_outputs.py``'s).

Both compare the roster with the stack's own outputs from its last update (``roster_state`` and
``departed``, read when the program starts), in ``preview`` as in ``up``; ``pulumi destroy`` does
not run the program.

- Guard: when a run would remove more than ``share`` of the stack's users and at least
  ``minimum`` of them (defaults 20 %, 3 users), ``preview`` and ``up`` fail naming the count and
  the users, unless the run sets ``OPENCLAW_FLEET_ALLOW_MASS_DELETION=1``.
- Record (stack output ``departed``): per departed user whose policy was ``retain`` or
  ``snapshot``, the policy, instance name and volume id; kept across runs until the user comes
  back, when ``restore: latest`` uses it to recreate their volume from its snapshot.
"""

from datetime import date

from openclaw_fleet.environment import ALLOW_MASS_DELETION as OVERRIDE_ENV
from openclaw_fleet.outputs import DepartedRow, RosterRow, row


def is_mass_loss(affected: int, total: int, share: float, minimum: int) -> bool:
    """Whether losing ``affected`` of ``total`` users is a mass deletion: at least ``minimum`` of
    them and more than ``share`` (0..1) of ``total``."""
    return affected >= minimum and affected > share * total


def mass_deletion(previous: list[str], current: list[str], share: float, minimum: int, override: bool) -> str | None:
    """Why removing ``previous`` − ``current`` is refused as a mass deletion not overridden, or None."""
    removed = sorted(set(previous) - set(current))
    if override or not is_mass_loss(len(removed), len(previous), share, minimum):
        return None
    return (
        f"this run would delete {len(removed)} of {len(previous)} users ({', '.join(removed)}), more than "
        f"{share:.0%} of the stack; if that is intended, run again with {OVERRIDE_ENV}=1"
    )


def departed_record(
    previous_users: dict[str, RosterRow], previous_departed: dict[str, DepartedRow], current: list[str], today: str
) -> dict[str, dict]:
    """Who left with something kept: user id → ``DepartedRow`` as a dict (policy, name, volume_id,
    left_on: ISO date). Users back in the roster drop out."""
    record = {uid: left.model_dump(exclude_unset=True) for uid, left in previous_departed.items() if uid not in current}
    for uid, user in previous_users.items():
        if uid not in current and user.deprovision in ("retain", "snapshot"):
            record[uid] = row(
                DepartedRow, policy=user.deprovision, name=user.name, volume_id=user.volume_id, left_on=today
            )
    return record


def stale_restores(
    returning: list[str], left_before: dict[str, DepartedRow], retention_days: int, today: date
) -> dict[str, int]:
    """User id → days since they left, for returning users (``restore: latest``) who left with a
    snapshot longer ago than Fly keeps snapshots (``snapshot_retention``, days): their snapshot
    may be gone. Records without ``left_on`` (written before it existed) are not judged."""
    stale = {}
    for uid in returning:
        left = left_before.get(uid)
        if left and left.policy == "snapshot" and left.left_on:
            days = (today - date.fromisoformat(left.left_on)).days
            if days > retention_days:
                stale[uid] = days
    return stale


def inherited(
    roster: str,
    current: dict[str, tuple[str, int, bool]],
    previous_users: dict[str, RosterRow],
    departed: dict[str, DepartedRow],
) -> list[str]:
    """Why roster users would inherit another user's gateway and data: ``file:line: field: problem``
    each ([] when none).

    ``roster``: the roster file's path; ``current``: user id → (instance name, roster line,
    adopt); ``previous_users`` and ``departed``: the stack outputs ``roster_state`` and
    ``departed`` (user id → row with the instance ``name``).
    A user whose instance name is that of a different id still in the last update, or of a user
    who left with a volume retained or snapshotted, would get that user's app, volume and data:
    ids that differ only in case, or before their last 12 characters, share a short id. Refused
    unless the roster sets ``adopt: true`` on the new user, which says so on purpose."""
    owners: dict[str, tuple[str, str]] = {}
    for rows, why in ((departed, "who left with their data kept"), (previous_users, "who has it now")):
        for user_id, owner in rows.items():
            if owner.name:
                owners[owner.name] = (user_id, why)
    problems = []
    for user_id, (name, line, adopt) in sorted(current.items()):
        owner, why = owners.get(name, (user_id, ""))
        if owner != user_id and not adopt:
            problems.append(
                f"{roster}:{line}: users.{user_id}: would get gateway {name} of user {owner}, {why} (their short ids "
                f"are the same); give the new user another id, or set `adopt: true` on {user_id} to take over "
                f"{owner}'s gateway and data on purpose"
            )
    return problems
