"""``fleet check-github``: the GitHub repository settings the fleet's trust model relies on, read
through GitHub's REST API, each one said as kept or not.

The workflows alone do not keep secrets from unapproved code: that needs the plan credentials in
an environment only the default branch may enter (``fleet-plan``), the same in one with required
reviewers who may not approve their own run (``fleet-plan-approval``), the write credentials in a
protected ``production``, no fleet credential among the repository secrets (those reach every
branch's workflows), a protected default branch with code owners' review and the plan check
required, and workflow tokens that only read by default and cannot approve pull requests
(docs/pull-requests-and-ci.md). Reads ``GITHUB_API_URL`` (default GitHub's), ``GITHUB_TOKEN``
(Administration, Actions, Secrets and Contents: read) and the repository.
"""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from openclaw_fleet.cli.github import CHECK_NAME
from openclaw_fleet.cli.notes import api_call
from openclaw_fleet.errors import NoteFailed

PLAN_ENVIRONMENT, APPROVAL_ENVIRONMENT = "fleet-plan", "fleet-plan-approval"
CREDENTIALS = (
    "PULUMI_BACKEND_URL", "PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "FLY_API_TOKEN",
    "FLY_API_READONLY_TOKEN",
)  # fmt: skip
OWNED_PATHS = ("/users/", "/Pulumi.*.yaml", "/image/", "/openclaw_fleet/", "/bin/", "/.github/")


@dataclass(frozen=True)
class Finding:
    """One setting: ``what`` it is, whether it is ``kept``, and ``detail`` (what was found)."""

    what: str
    kept: bool
    detail: str


class Repository:
    """Reads of one repository's settings (``GET`` only); an answer of 403 or 404 is None, so a
    setting that cannot be read is said as not kept, with why."""

    def __init__(self, client: httpx.Client, api_url: str, name: str):
        self.client, self.base = client, f"{api_url.rstrip('/')}/repos/{name}"

    def get(self, path: str) -> dict | None:
        try:
            return api_call(self.client, "GET", f"{self.base}{path}", service="GitHub").json()
        except NoteFailed as error:
            if str(error).endswith((": 403", ": 404")):
                return None
            raise


def check(repository: Repository, environment: str = "production") -> list[Finding]:
    """Every setting the trust model relies on, kept or not, for deploys in ``environment``.
    Raises NoteFailed when GitHub does not answer or answers with another error."""
    default = (repository.get("") or {}).get("default_branch", "main")
    findings = [
        _environment(repository, PLAN_ENVIRONMENT, default, reviewers=False),
        _environment(repository, APPROVAL_ENVIRONMENT, default, reviewers=True),
        _environment(repository, environment, default, reviewers=True),
    ]
    secrets = repository.get("/actions/secrets?per_page=100")
    names = {secret["name"] for secret in (secrets or {}).get("secrets", [])}
    found = sorted(names & set(CREDENTIALS))
    findings.append(
        Finding(
            "no fleet credential among the repository secrets",
            secrets is not None and not found,
            "cannot be read" if secrets is None else f"found {', '.join(found)}" if found else "none",
        )
    )
    findings += _branch_protection(repository, default)
    permissions = repository.get("/actions/permissions/workflow") or {}
    findings.append(
        Finding(
            "workflow tokens read only by default, and cannot approve pull requests",
            permissions.get("default_workflow_permissions") == "read"
            and permissions.get("can_approve_pull_request_reviews") is False,
            f"default {permissions.get('default_workflow_permissions', '?')}, "
            f"can approve: {permissions.get('can_approve_pull_request_reviews', '?')}",
        )
    )
    findings.append(_code_owners(repository))
    return findings


def _environment(repository: Repository, name: str, default: str, reviewers: bool) -> Finding:
    what = f"environment {name}: " + (
        "required reviewers, no self-review, default branch only" if reviewers else "default branch only"
    )
    found = repository.get(f"/environments/{name}")
    if found is None:
        return Finding(what, False, "missing (or the token cannot read it)")
    policy = found.get("deployment_branch_policy") or {}
    branches: list[str] = []
    if policy.get("custom_branch_policies"):
        listed = repository.get(f"/environments/{name}/deployment-branch-policies") or {}
        branches = [entry.get("name") for entry in listed.get("branch_policies", [])]
    default_only = bool(policy.get("protected_branches")) or branches == [default]
    where = "protected branches" if policy.get("protected_branches") else ", ".join(branches) or "every branch"
    rules = [rule for rule in found.get("protection_rules", []) if rule.get("type") == "required_reviewers"]
    approved = bool(rules and rules[0].get("reviewers")) and rules[0].get("prevent_self_review") is True
    detail = f"deploys from {where}"
    if reviewers:
        detail += "; " + (
            f"{len(rules[0].get('reviewers') or [])} reviewer(s), self-review "
            f"{'prevented' if rules[0].get('prevent_self_review') else 'allowed'}"
            if rules
            else "no required reviewers"
        )
    return Finding(what, default_only and (approved or not reviewers), detail)


def _branch_protection(repository: Repository, default: str) -> list[Finding]:
    protection = repository.get(f"/branches/{default}/protection")
    if protection is None:
        return [Finding(f"branch {default} protected", False, "not protected (or the token cannot read it)")]
    reviews = protection.get("required_pull_request_reviews") or {}
    checks = protection.get("required_status_checks") or {}
    contexts = set(checks.get("contexts") or []) | {entry.get("context") for entry in checks.get("checks") or []}
    return [
        Finding(
            f"branch {default}: code owners' review, stale approvals dismissed",
            bool(reviews.get("require_code_owner_reviews")) and bool(reviews.get("dismiss_stale_reviews")),
            f"code owners: {bool(reviews.get('require_code_owner_reviews'))}, "
            f"dismiss stale: {bool(reviews.get('dismiss_stale_reviews'))}",
        ),
        Finding(
            f"branch {default}: the check “{CHECK_NAME}” required",
            CHECK_NAME in contexts,
            f"required: {', '.join(sorted(filter(None, contexts))) or 'none'}",
        ),
    ]


def _code_owners(repository: Repository) -> Finding:
    what = "CODEOWNERS covers the roster, stack files, image, program and CI files"
    for path in (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"):
        found = repository.get(f"/contents/{path}")
        if found is not None:
            text = base64.b64decode(found.get("content", "")).decode(errors="replace")
            owned = {line.split()[0] for line in text.splitlines() if line.strip() and not line.startswith("#")}
            missing = [pattern for pattern in OWNED_PATHS if pattern not in owned]
            return Finding(
                what, not missing, f"{path}: " + (f"no owner for {', '.join(missing)}" if missing else "all")
            )
    return Finding(what, False, "no CODEOWNERS file")


def main(repo: str | None, environment: str, environ: Mapping[str, str] = os.environ) -> int:
    """Print one line per setting; exit 0 when all are kept, 1 when any is not, 2 when GitHub
    cannot be asked (no token or repository, or an error other than 403 and 404)."""
    name, token = repo or environ.get("GITHUB_REPOSITORY"), environ.get("GITHUB_TOKEN")
    if not name or not token:
        print("fleet: check-github needs GITHUB_TOKEN and --repo OWNER/NAME (or GITHUB_REPOSITORY)", file=sys.stderr)
        return 2
    api_url = environ.get("GITHUB_API_URL", "https://api.github.com")
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    try:
        with httpx.Client(headers=headers, timeout=30.0) as client:
            findings = check(Repository(client, api_url, name), environment)
    except NoteFailed as error:
        print(f"fleet: check-github: {error}", file=sys.stderr)
        return 2
    for finding in findings:
        print(f"{'kept' if finding.kept else 'NOT KEPT':8}  {finding.what}: {finding.detail}")
    missing = sum(not finding.kept for finding in findings)
    print(f"check-github: {len(findings) - missing} of {len(findings)} settings kept in {name}")
    return 1 if missing else 0
