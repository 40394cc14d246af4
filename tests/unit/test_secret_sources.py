"""Secret sources: the stack declares what a roster may name; credentials of the fleet and its CI
can never be declared, and a source declared for some users cannot be named by others."""

from pathlib import Path

import pytest

from openclaw_fleet.errors import RosterError
from openclaw_fleet.roster import load_roster
from openclaw_fleet.secret_sources import check_references, parse_sources, sources_of

ADA, GRACE = "user_2abc123def456", "user_2grace0hopper1"


@pytest.mark.parametrize(
    "variable",
    [
        "FLY_API_TOKEN",
        "fly_api_token",
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_ACCESS_TOKEN",
        "PULUMI_BACKEND_URL",
        "GITHUB_TOKEN",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "CI_JOB_TOKEN",
        "GITLAB_API_TOKEN",
        "AWS_SECRET_ACCESS_KEY",
        "MY_STATE_PASSPHRASE",
        "NPM_TOKEN",
        "NODE_AUTH_TOKEN",
        "KUBECONFIG",
        "DIGITALOCEAN_TOKEN",
        "CLOUDFLARE_API_TOKEN",
        "DATABASE_URL",
        "ESC_ACCESS_TOKEN",
        "TF_VAR_db_password",
        "DEPLOY_PRIVATE_KEY",
        "OPENCLAW_FLEET_ALLOWED_HOSTS",
    ],
)
def test_a_credential_of_the_fleet_or_its_ci_cannot_be_declared(variable):
    with pytest.raises(ValueError) as caught:
        parse_sources({"stolen": {"env": variable}}, "Pulumi.fly.yaml")
    assert str(caught.value).startswith(
        "Pulumi.fly.yaml: openclaw-fleet:secretSources.stolen.env: must name a variable starting with OPENCLAW_KEY_"
    )


def test_only_the_reserved_prefix_is_read_from_the_environment():
    assert parse_sources({"ada": {"env": "OPENCLAW_KEY_ADA"}}, "x")["ada"].key == "OPENCLAW_KEY_ADA"
    with pytest.raises(ValueError, match="must name a variable starting with OPENCLAW_KEY_"):
        parse_sources({"ada": {"env": "openclaw_key_ada"}}, "x")


@pytest.mark.parametrize("key", ["flyApiToken", "registryPassword", "secretSources"])
def test_a_setting_of_the_fleet_cannot_be_declared(key):
    with pytest.raises(ValueError, match=r"secretSources.stolen.config: names one of the fleet's own settings"):
        parse_sources({"stolen": {"config": key}}, "Pulumi.fly.yaml")


@pytest.mark.parametrize(
    "raw, words",
    [
        ("env:ANTHROPIC", "must be a mapping"),
        ({"Team": {"env": "OPENCLAW_KEY_A"}}, "a source name must be"),
        ({"team": {"env": "OPENCLAW_KEY_A", "config": "b"}}, "exactly one of"),
        ({"team": {"value": "sk-live-123"}}, "exactly one of"),
        ({"team": {"env": "OPENCLAW_KEY_A B"}}, "team.env: must be a variable name"),
        ({"team": {"env": "OPENCLAW_KEY_A", "users": "user_1"}}, "team.users: must be a list"),
    ],
)
def test_a_malformed_declaration_names_the_setting_not_the_value(raw, words):
    with pytest.raises(ValueError) as caught:
        parse_sources(raw, "Pulumi.fly.yaml")
    assert words in str(caught.value)
    assert "sk-live-123" not in str(caught.value)


def test_plain_sources_parse_and_are_described_by_name():
    sources = parse_sources(
        {
            "team-anthropic": {"config": "teamAnthropic"},
            "ada-openai": {"env": "OPENCLAW_KEY_ADA_OPENAI", "users": [ADA]},
        },
        "x",
    )
    assert sources["team-anthropic"].allows(GRACE)
    assert sources["ada-openai"].allows(ADA) and not sources["ada-openai"].allows(GRACE)
    assert parse_sources(None, "x") == {}


ROSTER = f"""defaults:
  providerKeys:
    ANTHROPIC_API_KEY: team-anthropic
users:
  - id: {ADA}
    name: Ada
    providerKeys:
      OPENAI_API_KEY: ada-openai
  - id: {GRACE}
    name: Grace
    providerKeys:
      OPENAI_API_KEY: SOURCE
"""
SOURCES = {
    "team-anthropic": {"config": "teamAnthropic"},
    "ada-openai": {"env": "OPENCLAW_KEY_ADA_OPENAI", "users": [ADA]},
    "grace-openai": {"env": "OPENCLAW_KEY_GRACE_OPENAI", "users": [GRACE]},
}


def load(tmp_path: Path, source: str):
    path = tmp_path / "roster.yaml"
    path.write_text(ROSTER.replace("SOURCE", source))
    return path, load_roster(path)


def test_declared_sources_for_the_right_users_pass_and_read_as_names(tmp_path):
    path, users = load(tmp_path, "grace-openai")
    sources = parse_sources(SOURCES, "Pulumi.fly.yaml")
    check_references(users, sources, path, "Pulumi.fly.yaml")
    assert sources_of(users[1], sources) == {
        "ANTHROPIC_API_KEY": "team-anthropic (config teamAnthropic)",
        "OPENAI_API_KEY": "grace-openai (env OPENCLAW_KEY_GRACE_OPENAI)",
    }


def test_another_users_key_is_refused_with_file_line_and_field(tmp_path):
    path, users = load(tmp_path, "ada-openai")
    with pytest.raises(RosterError) as caught:
        check_references(users, parse_sources(SOURCES, "Pulumi.fly.yaml"), path, "Pulumi.fly.yaml")
    assert caught.value.problems == [
        f"{path}:12: users.{GRACE}.providerKeys.OPENAI_API_KEY: names a secret source that Pulumi.fly.yaml declares "
        "for other users only"
    ]


def test_an_undeclared_source_is_refused_without_echoing_it(tmp_path):
    path, users = load(tmp_path, "made-up-source")
    with pytest.raises(RosterError) as caught:
        check_references(users, parse_sources(SOURCES, "Pulumi.fly.yaml"), path, "Pulumi.fly.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith(f"{path}:12: users.{GRACE}.providerKeys.OPENAI_API_KEY: names a secret source that")
    assert "made-up-source" not in problem


def test_a_reference_in_the_defaults_is_reported_at_the_defaults_line(tmp_path):
    path, users = load(tmp_path, "grace-openai")
    with pytest.raises(RosterError) as caught:
        check_references(users, {}, path, "Pulumi.fly.yaml")
    assert f"{path}:3: users.{ADA}.providerKeys.ANTHROPIC_API_KEY:" in caught.value.problems[0]


@pytest.mark.parametrize("reference", ["env:FLY_API_TOKEN", "config:flyApiToken", "env:PULUMI_CONFIG_PASSPHRASE"])
def test_the_former_reference_form_is_refused_by_the_roster_itself(tmp_path, reference):
    path = tmp_path / "roster.yaml"
    path.write_text(f"users:\n  - id: {ADA}\n    name: Ada\n    providerKeys:\n      ANTHROPIC_API_KEY: {reference}\n")
    with pytest.raises(RosterError) as caught:
        load_roster(path)
    assert caught.value.problems[0].startswith(f"{path}:5: users[0].providerKeys.ANTHROPIC_API_KEY: must name a secret")
    assert reference.split(":")[1] not in str(caught.value)
