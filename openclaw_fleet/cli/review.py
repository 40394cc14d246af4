"""The plan a reviewer reads: ``fleet preview --format markdown|json``.

One entry per user that changes, grouped as added / changed / replaced / started / stopped /
removed, with the roster fields that change (model, size, region, provider-key *names* — a
secret's value never appears, its name does) and what the engine plans for the user's resources;
every replacement and every loss of a volume or app is in bold with its reason. Users that do not
change are only counted. On the Fly target each entry carries the estimated monthly cost before →
after (``cost.FlyPrices``), and the head the fleet's total.

"Before" is the stack output ``roster_state`` of each shard's last update; "after" the roster now;
what happens to resources comes from the preview's engine events (``plan.RunReport``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from openclaw_fleet.cli.plan import RunReport
from openclaw_fleet.cost import FlyPrices
from openclaw_fleet.roster import User

GROUPS = ("added", "changed", "replaced", "started", "stopped", "removed")
MARKER = "<!-- openclaw-fleet plan -->"  # finds the one pull-request comment to update
_REPLACING_OPS = ("replace", "create-replacement", "delete-replaced")


@dataclass
class UserChange:
    """One user's entry: ``group`` (one of GROUPS), ``fields`` (what changes, in words),
    ``bold`` (replacements and data loss, with reasons), ``errors``, monthly ``cost_before`` /
    ``cost_after`` (None: no price, e.g. Docker or a user not there)."""

    user_id: str
    name: str
    group: str
    fields: list[str] = field(default_factory=list)
    bold: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cost_before: float | None = None
    cost_after: float | None = None


@dataclass
class Review:
    """The fleet's plan: ``stack``, ``stacks`` (shards run), the changes, ``unchanged`` (a count),
    fleet cost totals before/after (None on Docker) and the price list's ``prices_date``."""

    stack: str
    stacks: int
    changes: list[UserChange]
    unchanged: int
    cost_before: float | None
    cost_after: float | None
    currency: str | None
    prices_date: str | None
    prices_source: str | None
    stack_errors: list[str]

    def counts(self) -> dict[str, int]:
        return {group: sum(change.group == group for change in self.changes) for group in GROUPS}


def _user_cost(prices: FlyPrices | None, row: dict | None) -> float | None:
    if prices is None or not row or row.get("target") != "fly" or row.get("size") not in prices.machine_month:
        return None
    return prices.monthly(row["size"], int(row["memory_mb"]), row["state"] == "running", int(row["volume_gb"] or 0))


def _fields(before: dict, after: dict) -> list[str]:
    """What changes between two roster rows, in words; provider keys by name."""
    words = []
    for key in ("state", "model", "region"):
        if before.get(key) and before.get(key) != after.get(key):
            words.append(f"{key} {before[key]} → {after[key]}")
    if before.get("size") and (before.get("size"), before.get("memory_mb")) != (after["size"], after["memory_mb"]):
        words.append(f"size {before['size']} {before['memory_mb']} MB → {after['size']} {after['memory_mb']} MB")
    old_keys, new_keys = set(before.get("provider_keys") or []), set(after["provider_keys"])
    if before.get("provider_keys") is not None:
        words += [f"provider key {name} added" for name in sorted(new_keys - old_keys)]
        words += [f"provider key {name} removed" for name in sorted(old_keys - new_keys)]
    return words


def build_review(
    stack: str,
    stacks: int,
    previous: dict[str, dict],
    users: list[User],
    target: str,
    volume_gb: int,
    plan: RunReport,
    prices: FlyPrices | None,
) -> Review:
    """The review of a preview. ``previous``: user id → ``roster_state`` row of the last update
    (all shards); ``users``: the roster now; ``plan``: the preview's events by user."""
    changes, unchanged = [], 0
    current = {user.id: user for user in users}
    total_before = total_after = 0.0
    priced = prices is not None and target == "fly"
    for user_id in sorted(set(previous) | set(current)):
        before = previous.get(user_id)
        after = current[user_id].recorded(target, volume_gb) if user_id in current else None
        cost_before, cost_after = _user_cost(prices, before), _user_cost(prices, after)
        total_before += cost_before or 0.0
        total_after += cost_after or 0.0
        report = plan.users.get(user_id)
        name = current[user_id].name if user_id in current else (before or {}).get("name") or user_id
        ops = set(report.changes) if report else set()
        if after is None:
            group = "removed"
        elif before is None:
            group = "added"
        elif ops & set(_REPLACING_OPS):
            group = "replaced"
        elif before.get("state") == "stopped" and after["state"] == "running":
            group = "started"
        elif before.get("state") == "running" and after["state"] == "stopped":
            group = "stopped"
        elif ops or (report and report.errors):
            group = "changed"
        else:
            unchanged += 1
            continue
        entry = UserChange(user_id, name, group, cost_before=cost_before, cost_after=cost_after)
        if group == "added":
            entry.fields = [f"{after['size']} {after['memory_mb']} MB, {after['region']}, {after['model']}"]
        elif group != "removed":
            entry.fields = _fields(before, after)
            described = {what for kinds in (report.changes if report else {}).values() for what in kinds}
            if not entry.fields and described:
                entry.fields = [f"{', '.join(sorted(described))} (the program or settings changed)"]
        if report:
            entry.bold += [f"{what} replaced" for what in report.changes.get("replace", [])]
            entry.bold += [f"loses data: {reason}" for reason in report.data_loss]
            entry.errors = list(report.errors[:1])
        changes.append(entry)
    order = {group: index for index, group in enumerate(GROUPS)}
    changes.sort(key=lambda change: (order[change.group], change.user_id))
    return Review(
        stack=stack,
        stacks=stacks,
        changes=changes,
        unchanged=unchanged,
        cost_before=round(total_before, 2) if priced else None,
        cost_after=round(total_after, 2) if priced else None,
        currency=prices.currency if priced else None,
        prices_date=prices.date if priced else None,
        prices_source=prices.source if priced else None,
        stack_errors=list(plan.stack_errors),
    )


def _money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


def markdown(review: Review, limit: int = 100) -> str:
    """The review as GitHub/GitLab-flavoured Markdown, starting with ``MARKER``; at most ``limit``
    users listed per group (then a count of the rest)."""
    counts = review.counts()
    lines = [MARKER, f"### openclaw-fleet plan: stack `{review.stack}` ({review.stacks} stack(s))", ""]
    counted = [f"**{count}** {group}" for group, count in counts.items()] + [f"{review.unchanged} unchanged"]
    lines.append(" · ".join(counted))
    if review.cost_before is not None:
        delta = review.cost_after - review.cost_before
        lines += [
            "",
            f"Estimated Fly cost per month, whole fleet: {_money(review.cost_before)} → {_money(review.cost_after)} "
            f"({'+' if delta >= 0 else '−'}${abs(delta):,.2f}); prices of {review.prices_date} from "
            f"{review.prices_source}, cheapest regions.",
        ]
    for message in review.stack_errors:
        lines += ["", f"**Stack error:** {message}"]
    priced = review.cost_before is not None
    for group in GROUPS:
        entries = [change for change in review.changes if change.group == group]
        if not entries:
            continue
        lines += ["", f"#### {group.capitalize()} ({len(entries)})", ""]
        lines += ["| user | what changes | $/month |" if priced else "| user | what changes |"]
        lines += ["| --- | --- | --- |" if priced else "| --- | --- |"]
        for change in entries[:limit]:
            what = [_cell(text) for text in change.fields] + [f"**{_cell(text)}**" for text in change.bold]
            what += [f"FAILED: {_cell(text)}" for text in change.errors]
            row = f"| `{change.user_id}` {_cell(change.name)} | {'; '.join(what) or '–'} |"
            if priced:
                row += f" {_money(change.cost_before)} → {_money(change.cost_after)} |"
            lines.append(row)
        if len(entries) > limit:
            lines.append(f"| … and {len(entries) - limit} more | |" + (" |" if priced else ""))
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def as_json(review: Review) -> str:
    """The review as JSON: ``stack``, ``stacks``, ``counts``, ``unchanged``, ``cost`` and ``users``."""
    document = {
        "stack": review.stack,
        "stacks": review.stacks,
        "counts": review.counts(),
        "unchanged": review.unchanged,
        "cost": None
        if review.cost_before is None
        else {
            "before": review.cost_before,
            "after": review.cost_after,
            "currency": review.currency,
            "prices_date": review.prices_date,
            "prices_source": review.prices_source,
        },
        "stack_errors": review.stack_errors,
        "users": [asdict(change) for change in review.changes],
    }
    return json.dumps(document, indent=2)
