"""Which shard stacks ``fleet up`` sends to their ``up`` without a preview, and what a shard's digest follows."""

from openclaw_fleet.cli.fleet import StackRun, program_digest
from openclaw_fleet.roster import User
from tests.unit.users import user


def run(resource_count: int | None, users: list[User]) -> StackRun:
    return StackRun("dev", stack=None, users=users, digest="d", previous={}, resource_count=resource_count)


def test_only_a_stack_known_to_hold_nothing_skips_its_preview():
    assert run(0, [user()]).only_creates
    assert not run(9, [user()]).only_creates  # may delete or replace: previewed, guarded
    assert not run(None, [user()]).only_creates  # the backend did not say: previewed
    assert not run(0, []).only_creates  # nothing to do at all


def test_the_digest_follows_the_environment_provider_keys_its_users_name(monkeypatch, tmp_path):
    """``--changed`` skips a shard whose digest is unchanged, so a rotated ``env:`` key must change it."""
    users = [user(provider_keys={"openai": "env:OPENAI_KEY_FOR_TEST"})]
    monkeypatch.setenv("OPENAI_KEY_FOR_TEST", "sk-first-0123456789")
    first = program_digest(tmp_path, "config: {}", users)
    assert program_digest(tmp_path, "config: {}", users) == first
    monkeypatch.setenv("OPENAI_KEY_FOR_TEST", "sk-second-0123456789")
    second = program_digest(tmp_path, "config: {}", users)
    assert second != first
    monkeypatch.setenv("SOME_OTHER_VARIABLE_FOR_TEST", "anything")  # not named by any user: no change
    assert program_digest(tmp_path, "config: {}", users) == second
