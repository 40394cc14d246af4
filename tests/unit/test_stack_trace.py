"""The stack trace each resource records: the program's innermost frame, the one the SDK's full trace
would give first among the program's frames."""

import inspect
from pathlib import Path

import pytest
from pulumi.runtime import resource as sdk_resource

from openclaw_fleet.sdk_at_scale import program_frames_only

SDK_TRACE = sdk_resource._get_stack_trace


class Resource:
    def __init__(self):
        self.trace = sdk_resource._get_stack_trace()  # where the SDK asks, inside Resource.__init__


class CustomResource(Resource):
    def __init__(self):
        super().__init__()


class Machine(CustomResource):
    def __init__(self):
        super().__init__()


def declare_a_machine():
    return Machine().trace  # the line a resource is declared on


def declared_through_exec():
    return eval("declare_a_machine()")  # a frame with no file ("<string>") in between


@pytest.fixture(autouse=True)
def sdk_trace_restored(monkeypatch):
    """Every test starts from the SDK's own trace, and leaves it behind."""
    monkeypatch.setattr(sdk_resource, "_get_stack_trace", SDK_TRACE)


def sdk_frames(declare) -> list:
    """The SDK's own trace of the same declaration, innermost frame first."""
    sdk_resource._get_stack_trace = SDK_TRACE
    return list(declare().frames)


@pytest.mark.parametrize("declare", [declare_a_machine, declared_through_exec])
def test_the_kept_frame_is_the_first_program_frame_of_the_sdks_trace(declare):
    program_frames_only(Path(__file__).parent)
    kept = list(declare().frames)
    full = sdk_frames(declare)
    here = Path(__file__).parent.resolve().as_uri() + "/"
    expected = [frame for frame in full if frame.pc.uri.startswith(here)][:1]
    assert kept == expected
    declared_on = inspect.getsourcelines(declare_a_machine)[1] + 1
    assert kept[0].pc.uri == Path(__file__).resolve().as_uri() and kept[0].pc.line == declared_on


def test_with_no_program_frame_the_sdks_first_frame_is_kept(tmp_path):
    program_frames_only(tmp_path)  # no frame is in this directory
    kept = list(declare_a_machine().frames)
    assert kept == sdk_frames(declare_a_machine)[:1] and len(kept) == 1


def test_a_resource_made_outside_three_constructors_has_no_trace():
    program_frames_only(Path(__file__).parent)
    assert list(Resource().trace.frames) == [] == sdk_frames(lambda: Resource().trace)
