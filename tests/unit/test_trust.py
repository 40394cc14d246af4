"""The Trust section and the pull-request intake, on real git repositories made here: every change
of trust a pull request can make is named in plain words (rendered as GitHub renders it), a data
change is told apart from a code change, and nothing of the pull request's tree is followed or run."""

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from openclaw_fleet.cli.comment import markdown
from openclaw_fleet.cli.intake import IntakeRefused, take
from openclaw_fleet.cli.review import Review
from openclaw_fleet.cli.trust import GitTree, TreeRefused, kind_of_path

ADA, GRACE = "user_2trust0ada001", "user_2trust0grace1"
RENDER = MarkdownIt("commonmark").enable("table")


def stack_file(sources: dict, **settings: str) -> str:
    config = {"openclaw-fleet:target": "fly", "openclaw-fleet:roster": "users/roster.yaml"}
    config |= {f"openclaw-fleet:{key}": value for key, value in settings.items()}
    config["openclaw-fleet:secretSources"] = sources
    return yaml.safe_dump({"config": config})


def roster(ada_keys: dict, grace_keys: dict | None = None) -> str:
    users = [{"id": ADA, "name": "Ada", "providerKeys": ada_keys}, {"id": GRACE, "name": "Grace"}]
    if grace_keys:
        users[1]["providerKeys"] = grace_keys
    return yaml.safe_dump({"users": users})


BASE_SOURCES = {
    "team-openai": {"config": "teamOpenai"},
    "ada-anthropic": {"config": "adaAnthropic", "users": [ADA]},
}


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str) -> str:
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path) -> Path:
    """A project whose main has a stack file, a roster and a Dockerfile, and a merge commit on top
    (first parent main), as ``refs/pull/N/merge`` is checked out."""
    repo = tmp_path / "pr"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(
        repo,
        {
            "Pulumi.yaml": "name: openclaw-fleet\nruntime: python\n",
            "Pulumi.fly.yaml": stack_file(BASE_SOURCES, baseImage="node:24-bookworm-slim"),
            "users/roster.yaml": roster({"OPENAI_API_KEY": "team-openai", "ANTHROPIC_API_KEY": "ada-anthropic"}),
            "image/Dockerfile": "FROM x\nARG OPENCLAW_VERSION=2026.9.6\n",
        },
        "base",
    )
    return repo


def trust_of(repo: Path, files: dict[str, str], into: Path | None = None):
    commit(repo, files, "the pull request")
    return take(repo, "fly", "openclaw-fleet", into)


def test_every_change_of_trust_is_named_and_rendered(repo):
    sources = {
        "team-openai": {"config": "adaAnthropic"},  # re-pointed at Ada's key
        "ada-anthropic": {"config": "adaAnthropic"},  # widened from Ada to every user
        "grace-extra": {"env": "OPENCLAW_KEY_GRACE"},
    }
    intake = trust_of(
        repo,
        {
            "Pulumi.fly.yaml": stack_file(
                sources, baseImage="ghcr.io/evil/node:24", flyApiUrl="https://fly.evil.example"
            ),
            "users/roster.yaml": roster({"OPENAI_API_KEY": "team-openai"}, {"ANTHROPIC_API_KEY": "ada-anthropic"}),
        },
    )
    assert intake.kind == "data"
    trust = intake.trust
    assert trust.sources == [
        "secret source ada-anthropic given to users user_2trust0ada001 → every user",
        "secret source grace-extra added: reads env OPENCLAW_KEY_GRACE, for every user",
        "secret source team-openai re-pointed: config teamOpenai → config adaAnthropic",
    ]
    assert f"user {GRACE} gains ANTHROPIC_API_KEY from ada-anthropic (config adaAnthropic)" in trust.keys
    assert f"user {ADA}: OPENAI_API_KEY from team-openai (config teamOpenai) → team-openai (config adaAnthropic)" in (
        trust.keys
    )
    assert f"user {ADA} loses ANTHROPIC_API_KEY (was from ada-anthropic (config adaAnthropic))" in trust.keys
    assert "openclaw-fleet:baseImage node:24-bookworm-slim → ghcr.io/evil/node:24" in trust.settings
    assert "openclaw-fleet:flyApiUrl https://api.machines.dev → https://fly.evil.example" in trust.settings

    review = replace(Review.pending("fly", "a test"), trust=trust)
    html = RENDER.render(markdown(review))
    section = html.split("<h4>Trust</h4>", 1)[1]
    for words in ("re-pointed: config teamOpenai → config adaAnthropic", "ghcr.io/evil/node:24", "fly.evil.example"):
        assert words in section.replace("\u2060", ""), words
    assert "<a " not in section  # a host in the plan is text, not a link


def test_a_new_openclaw_version_and_a_code_change_are_named(repo):
    intake = trust_of(repo, {"image/Dockerfile": "FROM x\nARG OPENCLAW_VERSION=2026.10.1\n", "docs/x.md": "words"})
    assert intake.kind == "code" and intake.code == ["image/Dockerfile"]
    assert intake.trust.settings == ["OpenClaw version 2026.9.6 → 2026.10.1 (image/Dockerfile)"]
    assert intake.trust.code == ["image/Dockerfile"]


def test_a_stack_file_change_outside_config_is_code(repo):
    text = stack_file(BASE_SOURCES, baseImage="node:24-bookworm-slim") + "environment:\n  - prod-secrets\n"
    intake = trust_of(repo, {"Pulumi.fly.yaml": text})
    assert intake.kind == "code" and intake.code[0].startswith("Pulumi.fly.yaml (outside `config:`")


def test_a_data_change_writes_the_stack_file_and_roster_only(repo, tmp_path):
    into = tmp_path / "workspace"
    into.mkdir()
    new_roster = roster({"OPENAI_API_KEY": "team-openai"})
    intake = trust_of(repo, {"users/roster.yaml": new_roster, "users/notes.txt": "x"}, into)
    assert intake.kind == "data"
    assert sorted(str(path.relative_to(into)) for path in into.rglob("*") if path.is_file()) == [
        "Pulumi.fly.yaml",
        "users/roster.yaml",
    ]
    assert (into / "users/roster.yaml").read_text() == new_roster


def test_a_link_in_the_pull_request_is_refused_never_followed(repo, tmp_path):
    secret = tmp_path / "runner-secret"
    secret.write_text("PULUMI_CONFIG_PASSPHRASE=hunter2")
    (repo / "users/roster.yaml").unlink()
    (repo / "users/roster.yaml").symlink_to(secret)
    commit(repo, {}, "a link")
    with pytest.raises(TreeRefused, match="is a link or a submodule"):
        GitTree(repo, "HEAD").read("users/roster.yaml")
    with pytest.raises(TreeRefused):
        take(repo, "fly", "openclaw-fleet", tmp_path)


def test_a_roster_outside_users_is_not_taken(repo, tmp_path):
    """A new file outside users/ is code already; a stack file alone can still point elsewhere."""
    text = stack_file(BASE_SOURCES, baseImage="node:24-bookworm-slim", roster="Pulumi.yaml")
    with pytest.raises(IntakeRefused, match="a pull request's roster must be under users/"):
        trust_of(repo, {"Pulumi.fly.yaml": text}, tmp_path)


@pytest.mark.parametrize(
    "path, kind",
    [
        ("users/roster.yaml", "data"),
        ("Pulumi.fly.yaml", "data"),
        ("Pulumi.yaml", "code"),
        ("docs/security.md", "docs"),
        ("README.md", "docs"),
        ("bin/fleet", "code"),
        ("requirements.txt", "code"),
        (".github/workflows/fleet-plan.yml", "code"),
        ("openclaw_fleet/cli/intake.py", "code"),
        ("image/Dockerfile", "code"),
    ],
)
def test_paths_are_data_docs_or_code(path, kind):
    assert kind_of_path(path) == kind


def test_a_local_preview_compares_the_working_tree_with_a_revision(repo):
    from openclaw_fleet.cli.trust import against_revision

    sources = {**BASE_SOURCES, "grace-extra": {"env": "OPENCLAW_KEY_GRACE"}}
    (repo / "Pulumi.fly.yaml").write_text(stack_file(sources, baseImage="node:24-bookworm-slim"))
    trust = against_revision(repo, "HEAD", "fly", "openclaw-fleet")
    assert trust.sources == ["secret source grace-extra added: reads env OPENCLAW_KEY_GRACE, for every user"]
    assert trust.code == [] and trust.keys == []
    with pytest.raises(TreeRefused, match="git diff"):
        against_revision(repo, "no-such-revision", "fly", "openclaw-fleet")
