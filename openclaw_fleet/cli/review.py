"""The plan a reviewer reads (``fleet preview --format markdown|json``), built from a preview;
``comment.py`` writes it as a comment or a JSON document.

One entry per user that changes, grouped as added / changed / replaced / started / stopped /
removed, with the roster fields that change (model, size, region, provider-key *names* — a
secret's value never appears, its name does) and what the engine plans for the user's resources;
every replacement and every loss of a volume or app is in bold with its reason. Users that do not
change are only counted. On the Fly target each entry carries the estimated monthly cost before →
after (``cost.FlyPrices``), and the head the fleet's total.

"Before" is the stack output ``roster_state`` of each shard's last update; "after" the roster now;
what happens to resources comes from the preview's engine events (``changes.ChangesByUser``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from openclaw_fleet.cli.changes import ChangesByUser
from openclaw_fleet.cli.stacks import StackRun
from openclaw_fleet.cli.trust import Trust
from openclaw_fleet.cost import FlyPrices
from openclaw_fleet.roster import User
from openclaw_fleet.secret_sources import SecretSource, describe_source
from openclaw_fleet.settings import StackSettings

GROUPS = ("added", "changed", "replaced", "started", "stopped", "removed")
_REPLACING_OPS = ("replace", "create-replacement", "delete-replaced")


@dataclass(frozen=True)
class ReviewEntry:
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
    security: list[str] = field(default_factory=list)  # what decides what the gateway may reach or do
    resources: list[str] = field(default_factory=list)  # the engine's steps: "op Kind (keys)"
    before: dict | None = None  # the user as the last update recorded them (``User.recorded``), or None
    after: dict | None = None  # the user as the roster has them now, or None when they leave


@dataclass(frozen=True)
class Review:
    """The fleet's plan: ``stack``, ``stacks`` (shards run), the changes, ``unchanged`` (a count),
    fleet cost totals before/after (None on Docker) and the price list's ``prices_date``."""

    stack: str
    stacks: int
    changes: list[ReviewEntry]
    unchanged: int
    cost_before: float | None
    cost_after: float | None
    currency: str | None
    prices_date: str | None
    prices_source: str | None
    stack_errors: list[str]
    others: dict[str, list[str]] = field(default_factory=dict)  # changes outside users' gateways
    refusal: str | None = None  # the guard's refusal
    failure: str | None = None  # why the plan failed or is incomplete
    waiting: str | None = None  # why the plan waits for a maintainer's approval before it runs
    trust: Trust | None = None  # the changes of trust, when the base to compare with is known
    commit: str | None = None
    run_url: str | None = None
    time: str | None = None

    @classmethod
    def failed(cls, stack: str, failure: str) -> Review:
        """The review of a plan that failed before any stack was previewed: the failure alone."""
        return cls(stack, 0, [], 0, None, None, None, None, None, [], failure=failure)

    @classmethod
    def pending(cls, stack: str, waiting: str) -> Review:
        """The review of a plan that has not run yet: why it waits for approval."""
        return cls(stack, 0, [], 0, None, None, None, None, None, [], waiting=waiting)

    @property
    def status(self) -> str:
        """``failed``, ``refused``, ``waiting`` or ``ready``."""
        return "failed" if self.failure else "refused" if self.refusal else "waiting" if self.waiting else "ready"

    def counts(self) -> dict[str, int]:
        return {group: sum(change.group == group for change in self.changes) for group in GROUPS}


def _user_cost(prices: FlyPrices | None, row: dict | None) -> float | None:
    if prices is None or not row or row.get("target") != "fly" or row.get("size") not in prices.machine_month:
        return None
    return prices.monthly(row["size"], int(row["memory_mb"]), row["state"] == "running", int(row["volume_gb"] or 0))


def _fields(before: dict, after: dict, sources: dict[str, SecretSource]) -> list[str]:
    """What changes between two roster rows, in words; provider keys by name and source."""
    words = []
    for key in ("state", "model", "region"):
        if before.get(key) and before.get(key) != after.get(key):
            words.append(f"{key} {before[key]} → {after[key]}")
    if before.get("size") and (before.get("size"), before.get("memory_mb")) != (after["size"], after["memory_mb"]):
        words.append(f"size {before['size']} {before['memory_mb']} MB → {after['size']} {after['memory_mb']} MB")
    old_keys, new_keys = set(before.get("provider_keys") or []), set(after["provider_keys"])
    if before.get("provider_keys") is not None:
        keys = _keys(after)
        words += [
            f"provider key {name} added" + (f" from {describe_source(keys[name], sources)}" if keys.get(name) else "")
            for name in sorted(new_keys - old_keys)
        ]
        words += [f"provider key {name} removed" for name in sorted(old_keys - new_keys)]
    return words


def _keys(row: dict) -> dict[str, str | None]:
    """Provider key name → secret source name; a row recorded before sources lists names only."""
    keys = row.get("provider_keys") or {}
    return dict(keys) if isinstance(keys, dict) else dict.fromkeys(keys)


def _security(row: dict, sources: dict[str, SecretSource]) -> list[str]:
    """What a reviewer must see of a new user: where each key comes from, WhatsApp owner, plain
    env, pairings, adopt, restore, deprovision."""
    words = [
        f"provider key {name} from {describe_source(source, sources) if source else '?'}"
        for name, source in sorted(_keys(row).items())
    ]
    words += [f"whatsappOwner {row['whatsapp_owner']}"] if row.get("whatsapp_owner") else []
    words += [f"env {name}={value}" for name, value in sorted((row.get("env") or {}).items())]
    words += [f"telegramPairings {', '.join(row['telegram_pairings'])}"] if row.get("telegram_pairings") else []
    words += ["adopt: takes over what exists under this name"] if row.get("adopt") else []
    words += [f"restore {row['restore']}"] if row.get("restore") else []
    words += [f"deprovision {row['deprovision']}"] if row.get("deprovision") not in (None, "delete") else []
    return words


def _security_changes(before: dict, after: dict, sources: dict[str, SecretSource]) -> list[str]:
    """What changes between two rows in the fields ``_security`` shows; nothing for a row recorded
    before those fields were (its ``provider_keys`` a list of names), which would show every user."""
    if not isinstance(before.get("provider_keys"), dict):
        return []
    words = []
    old_keys, new_keys = _keys(before), _keys(after)
    for name in sorted(set(old_keys) & set(new_keys)):
        if old_keys[name] is not None and old_keys[name] != new_keys[name]:
            words.append(f"provider key {name} source {old_keys[name]} → {describe_source(new_keys[name], sources)}")
    for key, label in (("whatsapp_owner", "whatsappOwner"), ("restore", "restore"), ("deprovision", "deprovision")):
        if (before.get(key) or None) != (after.get(key) or None) and (key != "deprovision" or before.get(key)):
            words.append(f"{label} {before.get(key) or '–'} → {after.get(key) or '–'}")
    old_env, new_env = before.get("env") or {}, after.get("env") or {}
    words += [f"env {name}={new_env[name]}" for name in sorted(new_env) if old_env.get(name) != new_env[name]]
    words += [f"env {name} removed" for name in sorted(set(old_env) - set(new_env))]
    if (before.get("telegram_pairings") or []) != (after.get("telegram_pairings") or []):
        words.append(f"telegramPairings {', '.join(after.get('telegram_pairings') or []) or '–'}")
    if bool(before.get("adopt")) != bool(after.get("adopt")):
        words.append("adopt: takes over what exists under this name" if after.get("adopt") else "adopt removed")
    return words


def build_review(
    stack: str,
    stacks: int,
    previous: dict[str, dict],
    users: list[User],
    target: str,
    volume_gb: int,
    plan: ChangesByUser,
    prices: FlyPrices | None,
    sources: dict[str, SecretSource] | None = None,
) -> Review:
    """The review of a preview. ``previous``: user id → ``roster_state`` row of the last update
    (all shards); ``users``: the roster now; ``plan``: the preview's events by user; ``sources``:
    the stack's secret sources, to say what each key reads."""
    sources = sources or {}
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
        security = _security_changes(before, after, sources) if before and after else []
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
        elif ops or (report and report.errors) or security:
            group = "changed"  # a security field that changes nothing of the resources is shown too
        else:
            unchanged += 1
            continue
        steps = report.changes if report else {}
        fields: list[str] = []
        if group == "added":
            fields = [f"{after['size']} {after['memory_mb']} MB, {after['region']}, {after['model']}"]
            security = _security(after, sources)
        elif group != "removed":
            fields = _fields(before, after, sources)
            described = {what for kinds in steps.values() for what in kinds}
            if not fields and described:
                fields = [f"{', '.join(sorted(described))} (the program or settings changed)"]
        changes.append(
            ReviewEntry(
                user_id,
                name,
                group,
                fields=fields,
                bold=[f"{what} replaced" for what in steps.get("replace", [])]
                + [f"loses data: {reason}" for reason in (report.data_loss if report else [])],
                errors=list(report.errors[:1]) if report else [],
                cost_before=cost_before,
                cost_after=cost_after,
                security=security,
                resources=[f"{op} {what}" for op, kinds in sorted(steps.items()) for what in kinds],
                before=before,
                after=after,
            )
        )
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
        others={what: sorted(set(ops)) for what, ops in plan.others.items()},
    )


def review_of(settings: StackSettings, runs: list[StackRun], plan: ChangesByUser, everyone: list[StackRun]) -> Review:
    """The reviewer's plan (``review.py``) of a preview of ``runs``; users of shards not run
    (``--changed``, ``--shard``) count as unchanged."""
    ran = {run.name for run in runs}
    previous = {uid: row.as_written() for run in runs for uid, row in run.outputs.roster_state.items()}
    users = [user for run in runs for user in run.users]
    prices = FlyPrices.load() if settings.target == "fly" else None
    target, volume_gb = settings.target, settings.volume_size_gb
    review = build_review(
        settings.stack, len(runs), previous, users, target, volume_gb, plan, prices, settings.secret_sources
    )
    return replace(review, unchanged=review.unchanged + sum(len(run.users) for run in everyone if run.name not in ran))
