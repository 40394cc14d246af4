"""What the ``fleet`` command prints of a run: the report by stack and user, the ``--json`` run
document, and the exit status; built from immutable results as the scheduler returns them."""

from types import SimpleNamespace

import pytest

from openclaw_fleet.cli.changes import ChangesByUser
from openclaw_fleet.cli.printing import exit_status, print_report, run_document
from openclaw_fleet.cli.results import Applied, Converged, Plan, StackResult

GATEWAY = "urn:pulumi:dev::openclaw-fleet::openclaw:fleet:FlyGateway"


def step(op: str, instance: str, kind: str = "Volume", keys=("region",)) -> SimpleNamespace:
    """An engine pre-event of ``op`` on a user's ``kind`` resource (``instance``: their gateway's name)."""
    parent = f"{GATEWAY}::{instance}"
    state = SimpleNamespace(parent=parent, retain_on_delete=False)
    meta = SimpleNamespace(
        op=op, urn=f"{parent}$pulumi-python:dynamic/fly:{kind}::{instance}", type=f"pulumi-python:dynamic/fly:{kind}",
        old=state, new=state, keys=list(keys), diffs=None,
    )  # fmt: skip
    return event(resource_pre_event=SimpleNamespace(metadata=meta))


def event(**parts) -> SimpleNamespace:
    """An engine event with ``parts`` and every other part None, as the Automation API makes them."""
    kinds = ("resource_pre_event", "res_outputs_event", "res_op_failed_event", "diagnostic_event")
    return SimpleNamespace(**{**dict.fromkeys(kinds), **parts})


def by_user(*events) -> ChangesByUser:
    changes = ChangesByUser({"oc-a": "user_a", "oc-b": "user_b"})
    for each in events:
        changes.on_event(each)
    return changes


def test_the_report_names_each_stack_each_changing_user_and_the_counts():
    stacks = (
        StackResult("dev-shard-1-of-2", ("user_a", "user_c"), {"replace": 1, "same": 4}, 2.04),
        StackResult("dev-shard-2-of-2", ("user_b",), None, 0.0, "error: boom"),
    )
    lines = []
    print_report(lines.append, "preview", stacks, by_user(step("replace", "oc-a")))
    assert lines == [
        "dev-shard-1-of-2: 2 users; resources: replace 1, same 4; 2.0 s",
        "dev-shard-2-of-2: 1 users; resources: not run; 0.0 s; FAILED: error: boom",
        "  user_a: replace Volume (region); **loses data: Fly volume replaced (region)**",
        "preview: 1 users change, 2 unchanged, over 2 stack(s)",
    ]


def test_a_long_list_of_users_is_cut_at_the_limit():
    events = [step("update", f"oc-{index}", "Machine", ("image",)) for index in range(5)]
    lines = []
    print_report(
        lines.append,
        "up",
        (StackResult("dev", tuple(f"oc-{i}" for i in range(5)), {"update": 5}),),
        by_user(*events),
        limit=2,
    )
    assert lines[1:4] == ["  oc-0: update Machine (image)", "  oc-1: update Machine (image)", "  … and 3 more users"]


def test_the_run_document_carries_every_stack_and_the_reports_by_name():
    stacks = (StackResult("dev", ("user_a",), {"update": 1}, 1.26),)
    document = run_document("up", stacks, 0, applied=by_user(step("update", "oc-a", "Machine")), refusal=None)
    assert document["schema"] == 1 and document["command"] == "up" and document["status"] == 0
    assert document["stacks"] == [{"name": "dev", "users": 1, "changes": {"update": 1}, "seconds": 1.3, "error": None}]
    assert document["applied"]["users"]["user_a"]["changes"] == {"update": ["Machine (region)"]}
    assert document["refusal"] is None


def test_exit_status_is_1_for_a_failed_stack_or_user_and_0_otherwise(capsys):
    fine = Plan((StackResult("dev", ("user_a",), {"same": 3}),), by_user())
    assert exit_status(fine) == 0
    failed_stack = Applied((StackResult("dev", ("user_a",), None, 1.0, "error: x"),), by_user())
    assert exit_status(fine, failed_stack) == 1
    failing = by_user()
    failing.users["user_b"].errors.append("create of oc-b failed")
    assert exit_status(Applied((), failing)) == 1
    assert "1 user(s) failed: user_b" in capsys.readouterr().err


def test_results_are_immutable_and_a_converged_run_reports_each_stacks_last_operation():
    preview = StackResult("dev-1", ("user_a",), {"update": 1})
    with pytest.raises(AttributeError):
        preview.error = "x"  # type: ignore[misc]
    up = StackResult("dev-1", ("user_a",), {"update": 1, "same": 2}, 3.0)
    other = StackResult("dev-2", ("user_b",), {"same": 3})
    converged = Converged(Plan((preview, other), by_user()), Applied((up,), by_user()), ("dev-1",), (), None)
    assert converged.final() == (up, other)
    assert preview.has_changes and not other.has_changes and not StackResult("x", ()).has_changes


def outputs_event(op: str, instance: str, kind: str) -> SimpleNamespace:
    """An engine outputs event: a refresh's outcome for a user's ``kind`` resource."""
    parent = f"{GATEWAY}::{instance}"
    state = SimpleNamespace(parent=parent, retain_on_delete=False)
    meta = SimpleNamespace(
        op=op, urn=f"{parent}$pulumi-python:dynamic/docker:{kind}::{instance}",
        type=f"pulumi-python:dynamic/docker:{kind}",
        old=state, new=None if op == "delete" else state, keys=None, diffs=None,
    )  # fmt: skip
    return event(res_outputs_event=SimpleNamespace(metadata=meta))


def test_a_refresh_tells_drift_from_what_is_gone_and_a_gone_volume_is_data_lost():
    """As `pulumi refresh --preview-only` reports them: a `refresh` step, then the outputs event's op."""
    changes = ChangesByUser({"oc-a": "user_a", "oc-b": "user_b"})
    for instance, kind, outcome in (("oc-a", "Container", "update"), ("oc-b", "Volume", "delete")):
        begun = step("refresh", instance, kind)
        begun.resource_pre_event.metadata.urn = begun.resource_pre_event.metadata.urn.replace("/fly:", "/docker:")
        begun.resource_pre_event.metadata.type = f"pulumi-python:dynamic/docker:{kind}"
        changes.on_event(begun)
        changes.on_event(outputs_event(outcome, instance, kind))
    changes.on_event(outputs_event("delete", "oc-a", "Network"))  # no refresh step began: an up's event
    assert changes.users["user_a"].summary() == "update Container (drifted)"
    assert changes.users_losing_data == ["user_b"]
    assert changes.users["user_b"].data_loss == ["Docker volume gone: the refresh drops it from the state"]
