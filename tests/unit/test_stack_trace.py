"""What each resource records of where it was declared: no stack trace, and as its source position
the program's innermost frame, the first the SDK's full trace gives among the program's frames."""

import inspect
from pathlib import Path

import pytest
from pulumi.runtime import resource as sdk_resource

from openclaw_fleet.sdk_at_scale import source_position_only

SDK_TRACE, SDK_POSITION = sdk_resource._get_stack_trace, sdk_resource._get_source_position


class Resource:
    def __init__(self):
        # where and how the SDK asks, inside Resource.__init__ (register_resource, read_resource)
        self.trace = sdk_resource._get_stack_trace()
        self.position = sdk_resource._get_source_position(self.trace)


class CustomResource(Resource):
    def __init__(self):
        super().__init__()


class Machine(CustomResource):
    def __init__(self):
        super().__init__()


def declare_a_machine():
    return Machine()  # the line a resource is declared on


def declared_through_exec():
    return eval("declare_a_machine()")  # a frame with no file ("<string>") in between


@pytest.fixture(autouse=True)
def sdk_functions_restored(monkeypatch):
    """Every test starts from the SDK's own functions, and leaves them behind."""
    monkeypatch.setattr(sdk_resource, "_get_stack_trace", SDK_TRACE)
    monkeypatch.setattr(sdk_resource, "_get_source_position", SDK_POSITION)


def sdk_frames(declare) -> list:
    """The SDK's own trace of the same declaration, innermost frame first."""
    sdk_resource._get_stack_trace, sdk_resource._get_source_position = SDK_TRACE, SDK_POSITION
    return list(declare().trace.frames)


@pytest.mark.parametrize("declare", [declare_a_machine, declared_through_exec])
def test_the_position_is_the_first_program_frame_of_the_sdks_trace_and_no_trace_is_sent(declare):
    source_position_only(Path(__file__).parent)
    declared = declare()
    full = sdk_frames(declare)
    here = Path(__file__).parent.resolve().as_uri() + "/"
    assert list(declared.trace.frames) == []
    assert declared.position == next(frame.pc for frame in full if frame.pc.uri.startswith(here))
    declared_on = inspect.getsourcelines(declare_a_machine)[1] + 1
    assert declared.position.uri == Path(__file__).resolve().as_uri() and declared.position.line == declared_on


def test_with_no_program_frame_the_sdks_position_is_sent(tmp_path):
    source_position_only(tmp_path)  # no frame is in this directory
    declared = declare_a_machine()
    assert declared.position == sdk_frames(declare_a_machine)[0].pc
    assert list(declared.trace.frames) == []


def test_a_resource_made_outside_three_constructors_has_no_position():
    source_position_only(Path(__file__).parent)
    assert Resource().position is None
    assert sdk_frames(lambda: Resource()) == []
