"""What the ``fleet`` command prints: the run's report, ``--json`` documents, the reviewer's plan comment."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from openclaw_fleet.cli.comment import as_json, markdown, review_from_json
from openclaw_fleet.cli.guard import few
from openclaw_fleet.cli.options import RenderOptions
from openclaw_fleet.cli.plan import RunReport
from openclaw_fleet.cli.review import Review, build_review
from openclaw_fleet.cli.stacks import StackRun
from openclaw_fleet.cli.trust import Trust
from openclaw_fleet.cost import FlyPrices
from openclaw_fleet.settings import StackSettings


def print_report(out, verb: str, runs: list[StackRun], report: RunReport, limit: int = 200) -> None:
    """Per stack: users, resource changes by op, seconds, error; then one line per user that
    changes or failed (at most ``limit``); then the counts."""
    for run in runs:
        changes = ", ".join(f"{op} {n}" for op, n in sorted((run.changes or {}).items()) if n) or "not run"
        line = f"{run.name}: {len(run.users)} users; resources: {changes}; {run.seconds:.1f} s"
        out(line + (f"; FAILED: {run.error}" if run.error else ""))
    users = sorted(set(report.changed_users) | set(report.failed_users))
    for user in users[:limit]:
        out(f"  {user}: {report.users[user].summary()}")
    if len(users) > limit:
        out(f"  … and {len(users) - limit} more users")
    current = {user.id for run in runs for user in run.users}
    out(f"{verb}: {len(users)} users change, {len(current - set(users))} unchanged, over {len(runs)} stack(s)")


RUN_SCHEMA_VERSION = 1  # of `--json` for up, rollout and destroy; raised when a field changes meaning


def print_run_document(command: str, runs: list[StackRun], status: int, **reports: RunReport | str | None) -> None:
    """``--json`` of up, rollout and destroy on stdout: ``schema``, ``command``, ``status`` (the
    exit status), ``stacks`` (name, users, changes op → count, seconds, error) and each report
    given by name (``plan``, ``applied``: ``RunReport.as_document``), or text (``refusal``)."""
    document = {
        "schema": RUN_SCHEMA_VERSION,
        "command": command,
        "status": status,
        "stacks": [
            {
                "name": run.name,
                "users": len(run.users),
                "changes": run.changes,
                "seconds": round(run.seconds, 1),
                "error": run.error,
            }
            for run in runs
        ],
    }
    for name, report in reports.items():
        document[name] = report.as_document() if isinstance(report, RunReport) else report
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def review_of(settings: StackSettings, runs: list[StackRun], plan: RunReport, everyone: list[StackRun]) -> Review:
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
    review.unchanged += sum(len(run.users) for run in everyone if run.name not in ran)
    return review


def write_document(
    review: Review, form: str, output: str | None, commit: str | None = None, run_url: str | None = None
) -> None:
    """Write the plan for a reviewer (``form``: ``markdown`` or ``json``) to ``output`` or stdout, with
    the commit, CI run and time (given, else the CI's: GitHub Actions' or GitLab CI's variables).
    A markdown comment cut to fit GitHub's limit is written whole beside it as ``<output>.full.md``."""
    environ = os.environ
    review.commit = commit or environ.get("GITHUB_SHA") or environ.get("CI_COMMIT_SHA")
    if run_url:
        review.run_url = run_url
    elif environ.get("GITHUB_RUN_ID"):
        server = environ.get("GITHUB_SERVER_URL", "https://github.com")
        review.run_url = f"{server}/{environ.get('GITHUB_REPOSITORY')}/actions/runs/{environ['GITHUB_RUN_ID']}"
    else:
        review.run_url = environ.get("CI_JOB_URL")
    review.time = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
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
            review.failure = f"the plan job ended with {options.conclusion}; see its run"
    if options.trust:
        try:
            review.trust = Trust.from_document(json.loads(Path(options.trust).read_text()))
        except (OSError, ValueError, RecursionError) as error:
            review.failure = review.failure or f"the changes of trust could not be read ({type(error).__name__})"
    write_document(review, "markdown", options.output, commit=options.commit, run_url=options.run_url)
    return review


def exit_status(runs: list[StackRun], *reports: RunReport) -> int:
    """1 when a user or stack failed (the users named on stderr), else 0."""
    failed = sorted({user for report in reports for user in report.failed_users})
    if failed:
        print(f"fleet: {len(failed)} user(s) failed: {few(failed, 100)}", file=sys.stderr)
    errors = any(run.error for run in runs) or any(report.stack_errors for report in reports)
    return 1 if failed or errors else 0
