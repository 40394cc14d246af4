"""Which shard stacks ``fleet up`` sends to their ``up`` without a preview, what a shard's digest follows,
what a preview is handed, and when an ``up`` may start while other shards are still previewed."""

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from openclaw_fleet.cli.fleet import Fleet, program_digest
from openclaw_fleet.cli.schedule import preview_then_up
from openclaw_fleet.cli.stacks import StackRun, engine_env, run_operation
from openclaw_fleet.environment import PREVIOUS_OUTPUTS as PREVIOUS_OUTPUTS_ENV
from openclaw_fleet.roster import User
from openclaw_fleet.secret_sources import SecretSource
from tests.unit.users import stack_settings, user


def run(resource_count: int | None, users: list[User]) -> StackRun:
    return StackRun("dev", stack=None, users=users, digest="d", previous={}, resource_count=resource_count)


def test_only_a_stack_known_to_hold_nothing_skips_its_preview():
    assert run(0, [user()]).only_creates
    assert not run(9, [user()]).only_creates  # may delete or replace: previewed, guarded
    assert not run(None, [user()]).only_creates  # the backend did not say: previewed
    assert not run(0, []).only_creates  # nothing to do at all


def test_the_digest_follows_the_environment_provider_keys_its_users_name(monkeypatch, tmp_path):
    """``--changed`` skips a shard whose digest is unchanged, so a rotated key of an ``env`` source must change it."""
    users = [user(provider_keys={"OPENAI_API_KEY": "team-openai"})]
    sources = {"team-openai": SecretSource("env", "OPENCLAW_KEY_OPENAI_TEST")}
    monkeypatch.setenv("OPENCLAW_KEY_OPENAI_TEST", "sk-first-0123456789")
    first = program_digest(tmp_path, "config: {}", users, sources)
    assert program_digest(tmp_path, "config: {}", users, sources) == first
    monkeypatch.setenv("OPENCLAW_KEY_OPENAI_TEST", "sk-second-0123456789")
    second = program_digest(tmp_path, "config: {}", users, sources)
    assert second != first
    monkeypatch.setenv("SOME_OTHER_VARIABLE_FOR_TEST", "anything")  # not named by any source: no change
    assert program_digest(tmp_path, "config: {}", users, sources) == second


class HandedCLI:
    """Stands in for the Pulumi CLI of a previewed stack: keeps what its program would be handed."""

    def __init__(self):
        self.handed = None

    def run(self, args: list[str], cwd: str, additional_env: dict) -> CommandResult:
        path = Path(additional_env[PREVIOUS_OUTPUTS_ENV])
        self.handed = (json.loads(path.read_text()), path.parent.stat().st_mode & 0o777, path)
        summary = {"sequence": 1, "summaryEvent": {"resourceChanges": {"same": 3}}}
        Path(args[args.index("--event-log") + 1]).write_text(json.dumps(summary) + "\n")
        return CommandResult("", "", 0)


def handed_stack(name: str) -> SimpleNamespace:
    return SimpleNamespace(name=name, workspace=SimpleNamespace(env_vars={}, work_dir=".", pulumi_command=HandedCLI()))


def test_previews_are_handed_the_outputs_read_without_secrets_and_nothing_is_left(tmp_path):
    roster = tmp_path / "roster.yaml"
    roster.write_text('users:\n  - {id: user_2a, name: "A"}\n')
    fleet = Fleet(tmp_path, stack_settings(stack="dev", roster=str(roster), shards=2), "")
    plain, shown = handed_stack("dev-shard-1-of-2"), handed_stack("dev-shard-2-of-2")
    runs = [
        StackRun(plain.name, plain, [], "d", previous={"fleet_digest": "x", "machines": []}),
        StackRun(shown.name, shown, [], "d", {"machines": [{"user_id": "u", "gateway_token": "t"}]}, True),
    ]
    plan = fleet.preview(runs)
    outputs, mode, path = plain.workspace.pulumi_command.handed
    assert outputs == {plain.name: {"fleet_digest": "x", "machines": []}} and mode == 0o700
    assert shown.workspace.pulumi_command.handed[0] == {plain.name: runs[0].previous}  # secrets shown never go in
    assert [result.changes for result in plan.stacks] == [{"same": 3}, {"same": 3}]
    assert plain.workspace.env_vars == {} == shown.workspace.env_vars  # handed to the one run, never the workspace
    assert not path.exists()


def test_the_engine_gets_gzip_a_lazier_collector_and_provider_threads_unless_the_environment_chooses(monkeypatch):
    for name in ("GOGC", "PULUMI_DIY_BACKEND_GZIP", "PULUMI_DIY_BACKEND_ZSTD", "OPENCLAW_FLEET_PROVIDER_THREADS"):
        monkeypatch.delenv(name, raising=False)
    assert engine_env(48) == {"PULUMI_DIY_BACKEND_GZIP": "true", "GOGC": "400", "OPENCLAW_FLEET_PROVIDER_THREADS": "48"}
    monkeypatch.setenv("GOGC", "100")
    monkeypatch.setenv("PULUMI_DIY_BACKEND_ZSTD", "true")
    monkeypatch.setenv("OPENCLAW_FLEET_PROVIDER_THREADS", "8")
    assert engine_env(48) == {}


def meet(log: list, entry: tuple | None, seconds: float = 10) -> None:
    """Wait until ``entry`` is in ``log``: what the caller is doing runs beside it."""
    deadline = time.monotonic() + seconds
    while entry is not None and entry not in log:
        assert time.monotonic() < deadline, f"{entry} did not start beside {log[-1]}"
        time.sleep(0.01)


def scripted_stack(name: str, log: list, changes: dict, losing=(), fails=False, meets=None, up_meets=None):
    """Stands in for ``auto.Stack`` in ``schedule.preview_then_up``: its preview shows ``changes``,
    marks ``losing`` (instance names) as losing their volume, or fails; every CLI run goes into
    ``log``. Its preview ends only once the log entry ``meets`` is there too, its up once
    ``up_meets`` is."""
    losses = []
    for number, instance in enumerate(losing, start=1):
        parent = f"urn:pulumi:dev::openclaw-fleet::openclaw:fleet:FlyGateway::{instance}"
        state = {"parent": parent, "retainOnDelete": False}
        meta = {
            "op": "replace", "urn": f"{parent}$pulumi-python:dynamic/fly:Volume::{instance}",
            "type": "pulumi-python:dynamic/fly:Volume", "old": state, "new": state, "keys": ["region"],
        }  # fmt: skip
        losses.append({"sequence": number, "resourcePreEvent": {"metadata": meta}})
    preview = {"events": [*losses, {"sequence": 99, "summaryEvent": {"resourceChanges": changes}}], "meets": meets}
    cli = ScriptedCLI(log, meets=up_meets, code=0, preview=preview, preview_fails=fails)
    return SimpleNamespace(name=name, workspace=SimpleNamespace(env_vars={}, work_dir=".", pulumi_command=cli))


class ScriptedCLI:
    """Stands in for the Pulumi CLI of ``stacks.run_operation``: logs (command, stack), writes
    ``events`` (each a JSON engine event) and then ``unfinished`` (a line cut short) to the
    ``--event-log`` file, then exits with ``code`` (once ``meets`` is in the log, when given). A
    preview writes ``preview["events"]`` and waits for ``preview["meets"]``, or fails."""

    def __init__(
        self, log: list, events: list[dict] = (), code=0, unfinished="", meets=None, preview=None, preview_fails=False
    ):
        self.log, self.code, self.unfinished, self.meets = log, code, unfinished, meets
        self.events = events or [{"sequence": 1, "summaryEvent": {"resourceChanges": {"update": 1}}}]
        self.preview, self.preview_fails = preview or {"events": self.events, "meets": None}, preview_fails

    def run(self, args: list[str], cwd: str, additional_env: dict) -> CommandResult:
        assert additional_env.get("PULUMI_DEBUG_COMMANDS") == "true"  # else the CLI has no --event-log
        self.log.append((args[0], args[args.index("--stack") + 1]))
        event_log = Path(args[args.index("--event-log") + 1])
        previewing = args[0] == "preview"
        events, unfinished = (self.preview["events"], "") if previewing else (self.events, self.unfinished)
        event_log.write_text("".join(json.dumps(event) + "\n" for event in events) + unfinished)
        meet(self.log, self.preview["meets"] if previewing else self.meets)
        if previewing and self.preview_fails:
            raise auto.CommandError(CommandResult("", "error: the program failed", 1))
        if self.code and not previewing:
            raise auto.CommandError(CommandResult("", "error: update failed", self.code))
        return CommandResult("", "", 0)


def fleet_of_five_shards(tmp_path: Path, script: dict[int, dict]) -> tuple[Fleet, list[StackRun], list]:
    """50 users in 5 shards of 10 (all in the last update), run one stack at once with the guard's
    defaults (more than 20 % and at least 3 users). Shard 5's digest changed since its last update;
    ``script`` gives a shard's ``ScriptedStack`` options by number (default: nothing to change)."""
    ids = [f"user_2u{number:02d}" for number in range(50)]
    roster = tmp_path / "roster.yaml"
    roster.write_text("users:\n" + "".join(f'  - {{id: {user_id}, name: "U"}}\n' for user_id in ids))
    fleet = Fleet(tmp_path, stack_settings(stack="dev", roster=str(roster), shards=5), "", stacks_at_once=1)
    instance = {user_id: name for name, user_id in fleet.names.items()}
    log, runs = [], []
    for shard in range(1, 6):
        members = ids[(shard - 1) * 10 : shard * 10]
        options = {"changes": {"same": 90}} | script.get(shard, {})
        options["losing"] = [instance[user_id] for user_id in options.get("losing", [])]
        stack = scripted_stack(f"dev-shard-{shard}-of-5", log, **options)
        roster_state = {user_id: {"name": instance[user_id]} for user_id in members}
        previous = {"fleet_digest": "old", "roster_state": roster_state}
        users = [user(id=user_id) for user_id in members]
        runs.append(StackRun(stack.name, stack, users, "new" if shard == 5 else "old", previous=previous))
    return fleet, runs, log


def test_an_up_starts_before_the_last_previews_once_they_cannot_make_the_guard_refuse(tmp_path):
    up, last_preview = ("up", "dev-shard-5-of-5"), ("preview", "dev-shard-4-of-5")
    script = {5: {"changes": {"same": 88, "update": 2}, "up_meets": last_preview}, 4: {"meets": up}}
    fleet, runs, log = fleet_of_five_shards(tmp_path, script)
    result = preview_then_up(fleet, runs, runs)
    # Shard 5 (digest changed) is previewed first; its up waits until the shards not yet previewed
    # hold at most 20 % of the users (10 of 50), then runs beside the last preview, in a slot of its
    # own (one stack at once: one preview and one up); each of the two ends only once the other began.
    previews = [("preview", f"dev-shard-{shard}-of-5") for shard in (5, 1, 2, 3)]
    assert log[:4] == previews and sorted(log[4:]) == [last_preview, up]
    assert result.updated == ("dev-shard-5-of-5",) and result.refusal is None
    assert result.final()[4].changes == {"update": 1}  # the up's, after the preview's
    assert result.plan.stacks[4].changes == {"same": 88, "update": 2}


def test_a_mass_loss_in_the_last_previews_is_refused_before_any_up(tmp_path):
    ids = [f"user_2u{number:02d}" for number in range(50)]
    script = {5: {"changes": {"update": 2}}, 1: {"losing": ids[0:6]}, 4: {"losing": ids[30:36]}}
    fleet, runs, log = fleet_of_five_shards(tmp_path, script)
    result = preview_then_up(fleet, runs, runs)
    assert [entry[0] for entry in log] == ["preview"] * 5 and result.updated == ()
    assert "12 of 50 users" in result.refusal and "12 would lose their data (Fly volume replaced" in result.refusal


def test_a_failed_preview_starts_no_further_up(tmp_path):
    fleet, runs, log = fleet_of_five_shards(tmp_path, {5: {"changes": {"update": 2}}, 1: {"fails": True}})
    result = preview_then_up(fleet, runs, runs)
    assert [entry[0] for entry in log] == ["preview"] * 5  # every shard is still previewed, for the report
    assert result.failed_previews == ("dev-shard-1-of-5",) and result.updated == ()
    assert result.plan.stacks[0].error.endswith("error: the program failed") and result.refusal is None


def test_an_operation_hands_over_the_events_a_failed_update_wrote_and_returns_the_summary():
    diagnostic = {"urn": "urn:x", "message": "boom", "color": "never", "severity": "error"}
    failed = {"sequence": 1, "diagnosticEvent": diagnostic}
    summary = {"sequence": 2, "summaryEvent": {"resourceChanges": {"create": 5, "same": 2}}}
    log, seen = [], []
    stack = SimpleNamespace(name="dev-shard-1-of-2", workspace=SimpleNamespace(env_vars={}, work_dir="."))
    stack.workspace.pulumi_command = ScriptedCLI(log, [failed, summary])
    assert run_operation(stack, "up", 16, {}, seen.append) == {"create": 5, "same": 2}
    stack.workspace.pulumi_command = ScriptedCLI(log, [failed], code=1)
    with pytest.raises(auto.CommandError):
        run_operation(stack, "destroy", 16, {}, seen.append)
    assert [event.diagnostic_event.message for event in seen if event.diagnostic_event] == ["boom", "boom"]
    assert log == [("up", "dev-shard-1-of-2"), ("destroy", "dev-shard-1-of-2")]  # one CLI run each, nothing after


def test_an_operation_leaves_out_a_last_event_the_cli_was_killed_while_writing():
    log, seen = [], []
    stack = SimpleNamespace(name="dev-shard-1-of-2", workspace=SimpleNamespace(env_vars={}, work_dir="."))
    started = {"sequence": 1, "preludeEvent": {"config": {}}}
    stack.workspace.pulumi_command = ScriptedCLI(log, [started], code=137, unfinished='{"sequence": 2, "resOu')
    with pytest.raises(auto.CommandError):  # why the run failed, not a JSON error about its last line
        run_operation(stack, "up", 16, {}, seen.append)
    assert [event.sequence for event in seen] == [1]
