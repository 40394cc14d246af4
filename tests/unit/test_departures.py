"""Departures: the mass-deletion guard's rule and the record of retained or snapshotted volumes."""

import json
from datetime import date

import pulumi
import pytest

from openclaw_fleet.departures import departed_record, inherited, mass_deletion, stale_restores
from openclaw_fleet.outputs import DepartedRow, RosterRow, StackOutputs
from openclaw_fleet.stack_outputs import PREVIOUS_OUTPUTS_ENV, previous_outputs
from tests.unit.conftest import RecordingMocks

TEN = [f"user_{i}" for i in range(10)]


def roster_rows(rows: dict) -> dict[str, RosterRow]:
    return {uid: RosterRow(**row) for uid, row in rows.items()}


def departed_rows(rows: dict) -> dict[str, DepartedRow]:
    return {uid: DepartedRow(**row) for uid, row in rows.items()}


def test_removing_a_few_users_is_fine():
    assert mass_deletion(TEN, TEN[2:], share=0.2, minimum=3, override=False) is None  # 2 of 10
    assert mass_deletion(TEN[:4], TEN[:2], share=0.2, minimum=3, override=False) is None  # 50 %, but only 2


def test_removing_more_than_the_share_and_the_minimum_fails_naming_them():
    message = mass_deletion(TEN, TEN[3:], share=0.2, minimum=3, override=False)  # 3 of 10 = 30 %
    assert "3 of 10 users" in message and "user_0, user_1, user_2" in message
    assert "OPENCLAW_FLEET_ALLOW_MASS_DELETION=1" in message


def test_exactly_the_share_is_allowed_and_the_override_lets_anything_through():
    assert mass_deletion(TEN + [f"x{i}" for i in range(5)], TEN, share=0.34, minimum=3, override=False) is None
    assert mass_deletion(TEN, [], share=0.2, minimum=3, override=True) is None


def test_first_run_has_no_previous_users():
    assert mass_deletion([], TEN, share=0.2, minimum=3, override=False) is None


def test_record_keeps_retained_and_snapshotted_users_until_they_return():
    previous = {
        "u1": {"deprovision": "retain", "name": "p-u-1", "volume_id": "v1"},
        "u2": {"deprovision": "delete", "name": "p-u-2", "volume_id": "v2"},
        "u3": {"deprovision": "snapshot", "name": "p-u-3", "volume_id": "v3"},
    }
    before = {"u9": {"policy": "retain", "name": "p-u-9", "volume_id": "v9"}}
    record = departed_record(roster_rows(previous), departed_rows(before), ["u3"], "2026-11-22")
    assert record == {
        "u1": {"policy": "retain", "name": "p-u-1", "volume_id": "v1", "left_on": "2026-11-22"},
        "u9": {"policy": "retain", "name": "p-u-9", "volume_id": "v9"},
    }
    assert departed_record({}, departed_rows(record), ["u9"], "2026-11-23") == {"u1": record["u1"]}


def test_a_return_later_than_the_snapshot_retention_is_named():
    left = {
        "u1": {"policy": "snapshot", "left_on": "2026-11-01"},
        "u2": {"policy": "snapshot", "left_on": "2026-11-20"},
        "u3": {"policy": "retain", "left_on": "2026-01-01"},  # a kept volume does not expire
        "u4": {"policy": "snapshot"},  # recorded before `left_on` existed
    }
    today = date(2026, 11, 22)
    assert stale_restores(["u1", "u2", "u3", "u4"], departed_rows(left), 5, today) == {"u1": 21}
    assert stale_restores(["u1"], departed_rows(left), 30, today) == {}


def test_a_preview_takes_the_outputs_fleet_hands_it_and_an_update_reads_its_own(monkeypatch, tmp_path):
    """``fleet`` hands a preview the outputs it has read; an update must read them under its lock."""
    handed = tmp_path / "previous-outputs.json"
    outputs = {"roster_state": {"user_1": {"name": "p-u-1"}}, "departed": {}}
    handed.write_text(json.dumps({"dev-shard-1-of-2": outputs, "dev-shard-2-of-2": {}}))
    monkeypatch.setenv(PREVIOUS_OUTPUTS_ENV, str(handed))
    monkeypatch.setenv("PULUMI_BACKEND_URL", f"file://{tmp_path}")  # holds no stack at all
    pulumi.runtime.set_mocks(RecordingMocks(), stack="dev-shard-1-of-2", preview=True)
    assert previous_outputs() == StackOutputs.parse(outputs, "dev-shard-1-of-2")
    pulumi.runtime.set_mocks(RecordingMocks(), stack="dev-shard-1-of-2", preview=False)
    with pytest.raises(pulumi.RunError, match="could not read the stack's previous outputs"):
        previous_outputs()  # the update asked the backend, which has no such stack
    pulumi.runtime.set_mocks(RecordingMocks(), stack="dev", preview=True)
    with pytest.raises(pulumi.RunError, match="could not read the stack's previous outputs"):
        previous_outputs()  # a stack the file does not name reads its own too


def test_a_case_variant_of_a_departed_users_id_is_refused_naming_both():
    """user_2ABC123DEF456 and user_2abc123def456 share the short id, so the same gateway name:
    the new user would get the departed user's app, volume and data."""
    departed = {"user_2ABC123DEF456": {"policy": "retain", "name": "openclaw-u-abc123def456", "volume_id": "v1"}}
    current = {"user_2abc123def456": ("openclaw-u-abc123def456", 7, False)}
    (problem,) = inherited("users/roster.yaml", current, roster_rows({}), departed_rows(departed))
    assert problem.startswith("users/roster.yaml:7: users.user_2abc123def456: would get gateway openclaw-u-abc123def")
    assert "user_2ABC123DEF456, who left with their data kept" in problem


def test_a_user_leaving_in_the_same_change_as_a_colliding_one_arrives_is_refused():
    previous = {"user_2ABC123DEF456": {"name": "openclaw-u-abc123def456"}}
    current = {"user_2abc123def456": ("openclaw-u-abc123def456", 3, False)}
    (problem,) = inherited("r.yaml", current, roster_rows(previous), departed_rows({}))
    assert "of user user_2ABC123DEF456, who has it now" in problem


def test_the_same_user_returning_or_an_adopting_user_is_not_refused():
    departed = {"user_2abc123def456": {"policy": "retain", "name": "openclaw-u-abc123def456"}}
    left = departed_rows(departed)
    assert inherited("r.yaml", {"user_2abc123def456": ("openclaw-u-abc123def456", 3, False)}, {}, left) == []
    assert inherited("r.yaml", {"user_2ABC123DEF456": ("openclaw-u-abc123def456", 3, True)}, {}, left) == []
    assert inherited("r.yaml", {"user_2other0000001": ("openclaw-u-other0000001", 3, False)}, {}, left) == []
