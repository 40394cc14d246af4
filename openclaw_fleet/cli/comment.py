"""The reviewer's plan (``review.Review``) as a pull-request comment (``markdown``) or JSON (``as_json``).

Every text that a roster or an engine message can carry is escaped for CommonMark and HTML
(``escape``): a name cannot end a table, open an HTML comment that hides the rows below it, make
a link or an image, or mention a person or team. The comment opens with the plan's status (ready,
refused by the guard, failed, waiting for approval), the commit, the CI run and the time, so an
old comment never looks current, then the Trust section (``trust.py``); it fits GitHub's 65,536
characters (``COMMENT_LIMIT``) whatever part is long: past that, rows and messages are cut and the
whole plan is in the job's artifact. ``review_from_json`` reads a JSON plan back as untrusted data;
``write_document`` writes either form, ``render_comment`` is ``fleet render``.
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

from openclaw_fleet.cli.options import RenderOptions
from openclaw_fleet.cli.review import GROUPS, Review, ReviewEntry
from openclaw_fleet.cli.trust import Trust

MARKER = "<!-- openclaw-fleet plan -->"  # finds the one pull-request comment to update


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


_STATUS = {"failed": "❌ failed", "refused": "⛔ refused", "waiting": "⏳ waits for approval", "ready": "✅ ready"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_RUN_URL = re.compile(r"^https://[A-Za-z0-9._~:/?#@!$&'*+,;=%-]+$")
MOST_MESSAGES = 20  # stack errors, changes outside gateways and trust sentences listed per part
_TRUST_HEADINGS = {
    "sources": "Secret sources",
    "keys": "Who gets which key",
    "settings": "Image, OpenClaw version, hosts and names",
    "code": "Code and CI files (they run only after a maintainer approves)",
    "notes": "Not compared",
}


def _status(review: Review) -> list[str]:
    if review.failure:
        return [f"**The plan failed or is incomplete: {escape(review.failure)}**"]
    if review.refusal:
        return [f"**Refused by the mass-deletion guard: {escape(review.refusal.removeprefix('refused: '))}**"]
    if review.waiting:
        return [f"**No plan yet: {escape(review.waiting)}**"]
    return []


def _listed(items: list[str], most: int) -> list[str]:
    """At most ``most`` items as escaped bullets, then how many more there are."""
    lines = [f"- {escape(item)}" for item in items[:most]]
    return lines + ([f"- … and {len(items) - most} more"] if len(items) > most else [])


def _trust(review: Review, most: int) -> list[str]:
    """The Trust section: every change of trust by kind, or that there is none."""
    trust = review.trust
    if trust is None:
        return []
    lines = ["", "#### Trust", ""]
    if not trust.changes():
        lines.append("No change of trust: no secret source, key source, image, OpenClaw version, host or code changes.")
    for section in trust.SECTIONS:
        items = getattr(trust, section)
        if items:
            lines += ["", f"**{_TRUST_HEADINGS[section]} ({len(items)})**", "", *_listed(items, most)]
    return lines


def markdown(review: Review, limit: int = 100, max_chars: int | None = COMMENT_LIMIT - 1_536) -> str:
    """The review as GitHub/GitLab-flavoured Markdown, starting with ``MARKER``: the status first
    (failed, refused, waiting, ready) with commit, run and time; the Trust section; the counts
    and cost; changes outside users' gateways; per group a table of at most ``limit`` users
    (then a count of the rest); every resource change in a ``<details>`` block. When the text
    would pass ``max_chars`` (None: no bound), fewer rows and messages are listed, then the text
    is cut at a line, saying so: whatever part is long, the result fits."""
    text = _markdown(review, limit, MOST_MESSAGES * 5, details=True)
    while max_chars is not None and len(text) > max_chars and limit > 0:
        limit //= 2
        text = _markdown(review, limit, MOST_MESSAGES, details=False, cut=True)
    if max_chars is not None and len(text) > max_chars:
        note = "\n\n**The comment is cut here: the whole plan is in the job's artifact.**\n"
        text = text[: text.rfind("\n", 0, max_chars - len(note)) + 1].rstrip("\n") + note
    return text


def _markdown(review: Review, limit: int, most: int, details: bool, cut: bool = False) -> str:
    counts = review.counts()
    shards = f" ({review.stacks} stack(s))" if review.stacks else ""
    lines = [MARKER, f"### openclaw-fleet plan {_STATUS[review.status]}: stack {code(review.stack)}{shards}", ""]
    problems = _status(review)
    lines += problems + ([""] if problems else [])
    where = [f"commit {code(review.commit[:12])}"] if review.commit else []
    where += [f"[CI run]({review.run_url})"] if review.run_url and _RUN_URL.match(review.run_url) else []
    where += [escape(review.time, 40)] if review.time else []
    if where:
        lines += [" · ".join(where), ""]
    lines += _trust(review, most)
    if not review.stacks:  # failed or waiting before any stack was previewed: nothing to count
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines).rstrip("\n") + "\n")
    counted = [f"**{count}** {group}" for group, count in counts.items()] + [f"{review.unchanged} unchanged"]
    lines += ([""] if lines[-1] else []) + [" · ".join(counted)]
    if review.cost_before is not None and review.cost_after is not None:
        delta = review.cost_after - review.cost_before
        dated = f"prices of {review.prices_date} " if review.prices_date and _DATE.match(review.prices_date) else ""
        lines += [
            "",
            f"Estimated Fly cost per month, whole fleet: {_money(review.cost_before)} → {_money(review.cost_after)} "
            f"({'+' if delta >= 0 else '−'}${abs(delta):,.2f}); {dated}from {escape(review.prices_source or '', 200)}, "
            "cheapest regions.",
        ]
    for message in review.stack_errors[:most]:
        lines += ["", f"**Stack error:** {escape(message)}"]
    if len(review.stack_errors) > most:
        lines += ["", f"**… and {len(review.stack_errors) - most} more stack errors** (in the job's log)"]
    if review.others:
        lines += ["", "#### Outside users' gateways", ""]
        others = [f"{', '.join(ops)} {what}" for what, ops in sorted(review.others.items())]
        lines += _listed(others, most)
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
            what = [escape(text) for text in (change.fields + change.security)[:most]]
            what += [f"**{escape(text)}**" for text in change.bold[:most]]
            what += [f"FAILED: {escape(text)}" for text in change.errors[:1]]
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
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines) + "\n")  # parts that each open with a blank line


def review_from_json(text: str) -> Review:
    """A review from ``as_json``'s document, read as untrusted data (a job that ran a pull
    request's data or code wrote it): only known fields, every text as a string, numbers finite,
    dates as dates, so that the comment rendered from it by the default branch's code is escaped
    like any other. Its ``trust`` is dropped: the trusted caller computes its own. Raises
    ValueError on a document that is not one (nesting too deep, a number too large included)."""
    try:
        document = json.loads(text)
        users = [
            ReviewEntry(
                user_id=str(row["user_id"]),
                name=str(row.get("name", "")),
                group=row["group"] if row.get("group") in GROUPS else "changed",
                **{key: [str(item) for item in row.get(key) or []] for key in _LISTS},
                **{key: _number(row.get(key)) for key in ("cost_before", "cost_after")},
            )
            for row in document.get("users") or []
        ]
        cost = document.get("cost") or {}
        date = cost.get("prices_date")
        return Review(
            stack=str(document["stack"]),
            stacks=_count(document.get("stacks")),
            changes=users,
            unchanged=_count(document.get("unchanged")),
            cost_before=_number(cost.get("before")),
            cost_after=_number(cost.get("after")),
            currency=cost.get("currency") and str(cost["currency"]),
            prices_date=date if isinstance(date, str) and _DATE.match(date) else None,
            prices_source=cost.get("prices_source") and str(cost["prices_source"]),
            stack_errors=[str(message) for message in document.get("stack_errors") or []],
            others={str(what): [str(op) for op in ops] for what, ops in (document.get("others") or {}).items()},
            refusal=document.get("refusal") and str(document["refusal"]),
            failure=document.get("failure") and str(document["failure"]),
        )
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError, OverflowError) as error:
        raise ValueError(f"not a plan document: {type(error).__name__}") from None


_LISTS = ("fields", "bold", "errors", "security", "resources")


def _number(value: object) -> float | None:
    """A finite number (int or float, not bool) as a float, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _count(value: object) -> int:
    """A count from untrusted data: a whole number from 0 to a billion, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 10**9 else 0


def as_json(review: Review) -> str:
    """The review as JSON: ``schema`` (``SCHEMA_VERSION``), ``stack``, ``stacks``, ``counts``,
    ``unchanged``, ``cost``, ``stack_errors``, ``status`` (ready, refused, failed, waiting) with
    ``refusal``, ``failure`` and ``waiting``, ``trust`` (``Trust.as_document``, or null),
    ``commit``, ``run_url``, ``time``, ``others`` and ``users``."""
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
        "status": review.status,
        "refusal": review.refusal,
        "failure": review.failure,
        "waiting": review.waiting,
        "trust": review.trust.as_document() if review.trust else None,
        "commit": review.commit,
        "run_url": review.run_url,
        "time": review.time,
        "others": review.others,
        "users": [asdict(change) for change in review.changes],
    }
    return json.dumps(document, indent=2)


def write_document(
    review: Review, form: str, output: str | None, commit: str | None = None, run_url: str | None = None
) -> None:
    """Write the plan for a reviewer (``form``: ``markdown`` or ``json``) to ``output`` or stdout, with
    the commit, CI run and time (given, else the CI's: GitHub Actions' or GitLab CI's variables).
    A markdown comment cut to fit GitHub's limit is written whole beside it as ``<output>.full.md``."""
    environ = os.environ
    if not run_url and environ.get("GITHUB_RUN_ID"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        run_url = f"{server}/{environ.get('GITHUB_REPOSITORY')}/actions/runs/{environ['GITHUB_RUN_ID']}"
    review = replace(
        review,
        commit=commit or environ.get("GITHUB_SHA") or environ.get("CI_COMMIT_SHA"),
        run_url=run_url or environ.get("CI_JOB_URL"),
        time=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    )
    text = markdown(review) if form == "markdown" else as_json(review) + "\n"
    if not output:
        sys.stdout.write(text)
        return
    Path(output).write_text(text)
    if form == "markdown":
        whole = markdown(review, max_chars=None, limit=len(review.changes))
        if whole != text:
            Path(f"{output}.full.md").write_text(whole)


def render_comment(options: RenderOptions) -> Review:
    """``fleet render``: the plan comment from the document a plan job wrote (``--plan``), read
    as untrusted data, with the commit and run the trusted caller names, and the Trust section
    the trusted caller computed (``--trust``, from ``fleet intake``), never the document's own.
    A missing or unreadable document, or a job that did not succeed, is a failed plan, said at
    the top; ``--waiting REASON`` writes the comment of a plan that waits for approval. Returns
    the review written."""
    if options.waiting:
        review = Review.pending(options.stack, options.waiting)
    else:
        try:
            review = review_from_json(Path(options.plan).read_text(errors="replace"))
        except (OSError, ValueError) as error:
            review = Review.failed(options.stack, f"the plan job wrote no readable plan ({error}); see its run")
        if options.conclusion != "success" and not (review.failure or review.refusal):
            review = replace(review, failure=f"the plan job ended with {options.conclusion}; see its run")
    if options.trust:
        try:
            review = replace(review, trust=Trust.from_document(json.loads(Path(options.trust).read_text())))
        except (OSError, ValueError, RecursionError) as error:
            failure = review.failure or f"the changes of trust could not be read ({type(error).__name__})"
            review = replace(review, failure=failure)
    write_document(review, "markdown", options.output, commit=options.commit, run_url=options.run_url)
    return review
