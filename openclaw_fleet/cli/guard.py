"""The mass-deletion guard over a whole fleet's plan: a pure function of who was there and what the plan loses."""

from __future__ import annotations

from openclaw_fleet.departures import OVERRIDE_ENV, is_mass_loss


def refusal(
    previous: set[str],
    current: set[str],
    losing: dict[str, list[str]],
    unknown: set[str],
    share: float,
    minimum: int,
) -> str | None:
    """Why the plan is refused as a mass deletion, or None.

    ``previous``: the ids of every user at the last update of every shard; ``current``: the
    roster's ids; ``losing``: user id → why the plan deletes or replaces their volume or app (a
    ``namePrefix`` or region change); ``unknown``: users of shards not previewed yet, counted as
    losing data whatever their preview will say. Refused when the users leaving, losing or
    unknown are at least ``minimum`` and more than ``share`` (0..1) of ``previous``
    (``departures.is_mass_loss``); the words name the counts and up to 20 users.
    """
    removed = previous - current
    losing_ids = set(losing) - removed
    unknown = unknown - removed - losing_ids
    affected = removed | losing_ids | unknown
    if not is_mass_loss(len(affected), len(previous), share, minimum):
        return None
    parts = [f"{len(removed)} leave the roster"] if removed else []
    if losing_ids:
        reasons = sorted({reason for user in losing_ids for reason in losing[user]})
        parts.append(f"{len(losing_ids)} would lose their data ({'; '.join(reasons)})")
    if unknown:
        parts.append(f"{len(unknown)} are in shards not yet previewed")
    return (
        f"refused: this run would delete or lose the data of {len(affected)} of {len(previous)} users, more than "
        f"{share:.0%} of the fleet: {', '.join(parts)}. Users: {few(sorted(affected))}. If that is intended, "
        f"run again with {OVERRIDE_ENV}=1"
    )


def few(names: list[str], limit: int = 20) -> str:
    """The first ``limit`` of ``names``, and how many more."""
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")
