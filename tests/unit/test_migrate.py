"""`fleet migrate`: the example roster of the release before secret sources, with provider keys as
its header taught (`config:<key>`, `env:<VAR>`), is refused today; migrated, it loads, its comments
stay, and the printed declarations make the stack accept every key."""

import shutil
from pathlib import Path

import pytest

from openclaw_fleet.cli import main
from openclaw_fleet.cli.migrate import migrate, source_name
from openclaw_fleet.errors import RosterError
from openclaw_fleet.roster import load_roster
from openclaw_fleet.secret_sources import check_references
from openclaw_fleet.settings import StackSettings

BEFORE = Path(__file__).resolve().parents[1] / "data" / "roster-before-secret-sources.yaml"


def test_the_former_roster_is_refused_and_migrated_it_loads_with_the_declarations(tmp_path, capsys):
    roster = tmp_path / "roster.yaml"
    shutil.copy(BEFORE, roster)
    with pytest.raises(RosterError, match="must name a secret source"):
        load_roster(roster)
    assert main.main(["migrate", "--roster", str(roster)]) == 0
    printed = capsys.readouterr()
    users = load_roster(roster)
    stack = "config:\n" + printed.out
    settings = StackSettings.from_text(stack, "dev", "openclaw-fleet", "Pulumi.dev.yaml")
    check_references(users, settings.secret_sources, roster, "Pulumi.dev.yaml")  # raises when one is missing
    assert settings.secret_sources["ada-anthropic"].key == "adaAnthropic"
    assert settings.secret_sources["ada-anthropic"].users == ("user_2abc123def456", "user_2grace0hopper1")
    grace = settings.secret_sources["grace-openai-key"]
    assert (grace.kind, grace.key, grace.users) == ("env", "OPENCLAW_KEY_GRACE_OPENAI_KEY", ("user_2grace0hopper1",))
    assert "set OPENCLAW_KEY_GRACE_OPENAI_KEY in place of GRACE_OPENAI_KEY" in printed.out
    text = roster.read_text()
    assert "ANTHROPIC_API_KEY: ada-anthropic   # as the header above teaches" in text
    assert "#   config:<key>" in text  # comments stay as they were
    assert main.main(["migrate", "--roster", str(roster)]) == 0  # again: nothing to do
    assert "nothing to do" in capsys.readouterr().err


def test_a_rewrite_that_would_not_load_writes_nothing(tmp_path, capsys):
    roster = tmp_path / "roster.yaml"
    roster.write_text("users:\n  - id: user_2x\n    name: X\n    providerKeys: {NOT_A_KEY: config:x}\n")
    before = roster.read_text()
    assert main.main(["migrate", "--roster", str(roster)]) == 2
    assert roster.read_text() == before and "nothing written" in capsys.readouterr().err


def test_source_names_follow_the_rule_and_never_collide():
    assert source_name("config", "adaAnthropic", set()) == "ada-anthropic"
    assert source_name("env", "OPENCLAW_KEY_TEAM_OPENAI", set()) == "team-openai"
    assert source_name("config", "9lives", set()) == "k-9lives"
    assert source_name("config", "ada.anthropic", {"ada-anthropic"}) == "ada-anthropic-2"
    text, sources = migrate("users:\n  - id: u1\n    providerKeys: {A: 'config:k', B: env:K}\n")
    assert [source.name for source in sources] == ["k", "k-2"] and "{A: k, B: k-2}" in text
