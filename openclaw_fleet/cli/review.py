"""The plan a reviewer reads: ``fleet preview --format markdown|json``.

Every text that a roster or an engine message can carry is escaped for CommonMark and HTML
(``escape``): a name cannot end a table, open an HTML comment that hides the rows below it, make
a link or an image, or mention a person or team. The comment opens with the plan's status (ready,
refused by the guard, failed), the commit, the CI run and the time, so an old comment never looks
current, and fits GitHub's 65,536 characters (``COMMENT_LIMIT``): past that, rows are cut and the
whole plan is in the job's artifact.

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
import re
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
    security: list[str] = field(default_factory=list)  # what decides what the gateway may reach or do
    resources: list[str] = field(default_factory=list)  # the engine's steps: "op Kind (keys)"
    before: dict | None = None  # the user as the last update recorded them (``User.recorded``), or None
    after: dict | None = None  # the user as the roster has them now, or None when they leave


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
    others: dict[str, list[str]] = field(default_factory=dict)  # changes outside users' gateways
    refusal: str | None = None  # the guard's refusal
    failure: str | None = None  # why the plan failed or is incomplete
    commit: str | None = None
    run_url: str | None = None
    time: str | None = None

    @classmethod
    def failed(cls, stack: str, failure: str) -> Review:
        """The review of a plan that failed before any stack was previewed: the failure alone."""
        return cls(stack, 0, [], 0, None, None, None, None, None, [], failure=failure)

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
        sources = _keys(after)
        words += [
            f"provider key {name} added" + (f" (source {sources[name]})" if sources.get(name) else "")
            for name in sorted(new_keys - old_keys)
        ]
        words += [f"provider key {name} removed" for name in sorted(old_keys - new_keys)]
    return words


def _keys(row: dict) -> dict[str, str | None]:
    """Provider key name → secret source name; a row recorded before sources lists names only."""
    keys = row.get("provider_keys") or {}
    return dict(keys) if isinstance(keys, dict) else dict.fromkeys(keys)


def _security(row: dict) -> list[str]:
    """What a reviewer must see of a new user: key sources, WhatsApp owner, plain env, pairings,
    adopt, restore, deprovision."""
    words = [f"provider key {name} from {source or '?'}" for name, source in sorted(_keys(row).items())]
    words += [f"whatsappOwner {row['whatsapp_owner']}"] if row.get("whatsapp_owner") else []
    words += [f"env {name}={value}" for name, value in sorted((row.get("env") or {}).items())]
    words += [f"telegramPairings {', '.join(row['telegram_pairings'])}"] if row.get("telegram_pairings") else []
    words += ["adopt: takes over what exists under this name"] if row.get("adopt") else []
    words += [f"restore {row['restore']}"] if row.get("restore") else []
    words += [f"deprovision {row['deprovision']}"] if row.get("deprovision") not in (None, "delete") else []
    return words


def _security_changes(before: dict, after: dict) -> list[str]:
    """What changes between two rows in the fields ``_security`` shows; nothing for a row recorded
    before those fields were (its ``provider_keys`` a list of names), which would show every user."""
    if not isinstance(before.get("provider_keys"), dict):
        return []
    words = []
    old_keys, new_keys = _keys(before), _keys(after)
    for name in sorted(set(old_keys) & set(new_keys)):
        if old_keys[name] is not None and old_keys[name] != new_keys[name]:
            words.append(f"provider key {name} source {old_keys[name]} → {new_keys[name]}")
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
        security = _security_changes(before, after) if before and after else []
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
        entry = UserChange(
            user_id, name, group, cost_before=cost_before, cost_after=cost_after, before=before, after=after
        )
        if group == "added":
            entry.fields = [f"{after['size']} {after['memory_mb']} MB, {after['region']}, {after['model']}"]
            entry.security = _security(after)
        elif group != "removed":
            entry.fields = _fields(before, after)
            entry.security = security
            described = {what for kinds in (report.changes if report else {}).values() for what in kinds}
            if not entry.fields and described:
                entry.fields = [f"{', '.join(sorted(described))} (the program or settings changed)"]
        if report:
            entry.bold += [f"{what} replaced" for what in report.changes.get("replace", [])]
            entry.bold += [f"loses data: {reason}" for reason in report.data_loss]
            entry.errors = list(report.errors[:1])
            entry.resources = [f"{op} {what}" for op, kinds in sorted(report.changes.items()) for what in kinds]
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
        others={what: sorted(set(ops)) for what, ops in plan.others.items()},
    )


def _money(value: float | None) -> str:
    return "–" if value is None else f"${value:,.2f}"


SCHEMA_VERSION = 1  # of the JSON plan (``as_json``); raised when a field changes meaning
COMMENT_LIMIT = 65_536  # GitHub's limit on a comment's body, in characters
_ESCAPES = {char: "\\" + char for char in "\\`*[]|~#"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_WORD_JOINER = "\u2060"  # invisible; keeps "@team" from mentioning and "http://" from linking


def escape(text: str, limit: int = 500) -> str:
    """``text`` as literal Markdown text on one line, at most ``limit`` characters of it: line
    breaks folded to spaces; CommonMark's punctuation that opens emphasis, code, links, headings
    and table cells backslash-escaped (``!`` makes an image only before ``[``, which is escaped;
    ``_`` only at a word's edge); ``<``, ``>`` and ``&`` as HTML entities (no raw HTML or
    comment); a word joiner after ``@`` and in ``://`` and ``www.`` (GitHub turns those into
    mentions and links, https://github.github.com/gfm/#autolinks-extension-)."""
    text = " ".join(str(text).split())
    if len(text) > limit:
        text = text[:limit] + "…"
    text = "".join(_ESCAPES.get(char, char) for char in text)
    # "_" opens emphasis only where a word does not go on across it (OPENAI_API_KEY stays as is).
    text = re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", r"\\_", text)
    for pattern in ("@", "://", "www."):
        text = text.replace(pattern, pattern[0] + _WORD_JOINER + pattern[1:])
    return text


def code(text: str) -> str:
    """``text`` as a one-line code span: backslashes are literal there, so backticks and line
    breaks are left out instead of escaped (ids, stack names and commits have none)."""
    return "`" + " ".join(str(text).replace("`", "").split())[:200] + "`"


def _status(review: Review) -> tuple[str, list[str]]:
    if review.failure:
        return "❌ failed", [f"**The plan failed or is incomplete: {escape(review.failure)}**"]
    if review.refusal:
        reason = review.refusal.removeprefix("refused: ")
        return "⛔ refused", [f"**Refused by the mass-deletion guard: {escape(reason)}**"]
    return "✅ ready", []


def markdown(review: Review, limit: int = 100, max_chars: int | None = COMMENT_LIMIT - 1_536) -> str:
    """The review as GitHub/GitLab-flavoured Markdown, starting with ``MARKER``: the status first
    (failed, refused, ready) with commit, run and time; the counts and cost; changes outside
    users' gateways; per group a table of at most ``limit`` users (then a count of the rest);
    every resource change in a ``<details>`` block. When the text would pass ``max_chars``
    (None: no bound), fewer rows are listed and the block is cut, saying so."""
    text = _markdown(review, limit, details=True)
    while max_chars is not None and len(text) > max_chars and limit > 0:
        limit //= 2
        text = _markdown(review, limit, details=False, cut=True)
    return text


def _markdown(review: Review, limit: int, details: bool, cut: bool = False) -> str:
    counts = review.counts()
    status, problems = _status(review)
    shards = f" ({review.stacks} stack(s))" if review.stacks else ""
    lines = [MARKER, f"### openclaw-fleet plan {status}: stack {code(review.stack)}{shards}", ""]
    lines += problems + ([""] if problems else [])
    where = [f"commit {code(review.commit[:12])}"] if review.commit else []
    where += [f"[CI run]({review.run_url})"] if review.run_url and review.run_url.startswith("https://") else []
    where += [escape(review.time)] if review.time else []
    if where:
        lines += [" · ".join(where), ""]
    if not review.stacks:  # failed before any stack was previewed: nothing to count
        return "\n".join(lines).rstrip("\n") + "\n"
    counted = [f"**{count}** {group}" for group, count in counts.items()] + [f"{review.unchanged} unchanged"]
    lines.append(" · ".join(counted))
    if review.cost_before is not None:
        delta = review.cost_after - review.cost_before
        lines += [
            "",
            f"Estimated Fly cost per month, whole fleet: {_money(review.cost_before)} → {_money(review.cost_after)} "
            f"({'+' if delta >= 0 else '−'}${abs(delta):,.2f}); prices of {review.prices_date} from "
            f"{escape(review.prices_source or '')}, cheapest regions.",
        ]
    for message in review.stack_errors:
        lines += ["", f"**Stack error:** {escape(message)}"]
    if review.others:
        lines += ["", "#### Outside users' gateways", ""]
        lines += [f"- {escape(', '.join(ops))} {escape(what)}" for what, ops in sorted(review.others.items())]
    if cut:
        lines += ["", "**This comment lists fewer users than change: the whole plan is in the job's artifact.**"]
    priced = review.cost_before is not None
    for group in GROUPS:
        entries = [change for change in review.changes if change.group == group]
        if not entries:
            continue
        lines += ["", f"#### {group.capitalize()} ({len(entries)})", ""]
        lines += ["| user | what changes | $/month |" if priced else "| user | what changes |"]
        lines += ["| --- | --- | --- |" if priced else "| --- | --- |"]
        for change in entries[:limit]:
            what = [escape(text) for text in change.fields + change.security]
            what += [f"**{escape(text)}**" for text in change.bold]
            what += [f"FAILED: {escape(text)}" for text in change.errors]
            row = f"| {code(change.user_id)} {escape(change.name)} | {'; '.join(what) or '–'} |"
            if priced:
                row += f" {_money(change.cost_before)} → {_money(change.cost_after)} |"
            lines.append(row)
        if len(entries) > limit:
            lines.append(f"| … and {len(entries) - limit} more | |" + (" |" if priced else ""))
    steps = [(change, step) for change in review.changes for step in change.resources]
    if details and steps:
        lines += ["", "<details><summary>Every resource change, by user</summary>", ""]
        lines += [f"- {code(change.user_id)}: {escape(step)}" for change, step in steps]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"


def review_from_json(text: str) -> Review:
    """A review from ``as_json``'s document, read as untrusted data (a pull request's own job
    wrote it): only known fields, every text as a string, so that the comment rendered from it
    by the default branch's code is escaped like any other. Raises ValueError on a document that
    is not one."""
    try:
        document = json.loads(text)
        users = [
            UserChange(
                user_id=str(row["user_id"]),
                name=str(row.get("name", "")),
                group=row["group"] if row.get("group") in GROUPS else "changed",
                **{key: [str(item) for item in row.get(key) or []] for key in _LISTS},
                **{key: _number(row.get(key)) for key in ("cost_before", "cost_after")},
            )
            for row in document.get("users") or []
        ]
        cost = document.get("cost") or {}
        return Review(
            stack=str(document["stack"]),
            stacks=int(document.get("stacks") or 0),
            changes=users,
            unchanged=int(document.get("unchanged") or 0),
            cost_before=_number(cost.get("before")),
            cost_after=_number(cost.get("after")),
            currency=cost.get("currency") and str(cost["currency"]),
            prices_date=cost.get("prices_date") and str(cost["prices_date"]),
            prices_source=cost.get("prices_source") and str(cost["prices_source"]),
            stack_errors=[str(message) for message in document.get("stack_errors") or []],
            others={str(what): [str(op) for op in ops] for what, ops in (document.get("others") or {}).items()},
            refusal=document.get("refusal") and str(document["refusal"]),
            failure=document.get("failure") and str(document["failure"]),
        )
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise ValueError(f"not a plan document: {type(error).__name__}") from None


_LISTS = ("fields", "bold", "errors", "security", "resources")


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def as_json(review: Review) -> str:
    """The review as JSON: ``schema`` (``SCHEMA_VERSION``), ``stack``, ``stacks``, ``counts``,
    ``unchanged``, ``cost``, ``stack_errors``, ``status`` (ready, refused, failed) with ``refusal``
    and ``failure``, ``commit``, ``run_url``, ``time``, ``others`` and ``users``."""
    document = {
        "schema": SCHEMA_VERSION,
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
        "status": "failed" if review.failure else "refused" if review.refusal else "ready",
        "refusal": review.refusal,
        "failure": review.failure,
        "commit": review.commit,
        "run_url": review.run_url,
        "time": review.time,
        "others": review.others,
        "users": [asdict(change) for change in review.changes],
    }
    return json.dumps(document, indent=2)
