"""Which shard stacks ``fleet up`` sends to their ``up`` without a preview, what a shard's digest follows,
and what a preview is handed."""

import json
from pathlib import Path
from types import SimpleNamespace

from openclaw_fleet.cli.fleet import Fleet, FleetConfig, StackRun, engine_env, program_digest
from openclaw_fleet.departures import PREVIOUS_OUTPUTS_ENV
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


class PreviewedStack:
    """Stands in for ``auto.Stack`` in ``Fleet.preview``: keeps what its program would be handed."""

    def __init__(self, name: str):
        self.name, self.workspace, self.handed = name, SimpleNamespace(env_vars={}), None

    def preview(self, parallel: int, on_event) -> SimpleNamespace:
        path = Path(self.workspace.env_vars[PREVIOUS_OUTPUTS_ENV])
        self.handed = (json.loads(path.read_text()), path.parent.stat().st_mode & 0o777, path)
        return SimpleNamespace(change_summary={"same": 3})


def test_previews_are_handed_the_outputs_read_without_secrets_and_nothing_is_left(tmp_path):
    roster = tmp_path / "roster.yaml"
    roster.write_text('users:\n  - {id: user_2a, name: "A"}\n')
    config = FleetConfig("dev", "openclaw-fleet", "", 2, roster, "p", 0.2, 3, None)
    fleet = Fleet(tmp_path, config)
    plain, shown = PreviewedStack("dev-shard-1-of-2"), PreviewedStack("dev-shard-2-of-2")
    runs = [
        StackRun(plain.name, plain, [], "d", previous={"fleet_digest": "x", "machines": []}),
        StackRun(shown.name, shown, [], "d", previous={"machines": [{"gateway_token": "tok"}]}, secrets_shown=True),
    ]
    fleet.preview(runs)
    outputs, mode, path = plain.handed
    assert outputs == {plain.name: {"fleet_digest": "x", "machines": []}} and mode == 0o700
    assert shown.handed[0] == {plain.name: runs[0].previous}  # outputs with secrets shown never go in
    assert [run.changes for run in runs] == [{"same": 3}, {"same": 3}]
    assert plain.workspace.env_vars == {} == shown.workspace.env_vars  # an up after it reads its own
    assert not path.exists()


def test_the_engine_gets_gzip_and_a_lazier_collector_unless_the_environment_chooses(monkeypatch):
    for name in ("GOGC", "PULUMI_DIY_BACKEND_GZIP", "PULUMI_DIY_BACKEND_ZSTD"):
        monkeypatch.delenv(name, raising=False)
    assert engine_env() == {"PULUMI_DIY_BACKEND_GZIP": "true", "GOGC": "400"}
    monkeypatch.setenv("GOGC", "100")
    monkeypatch.setenv("PULUMI_DIY_BACKEND_ZSTD", "true")
    assert engine_env() == {}
