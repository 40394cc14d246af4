"""Pulumi mocks for the unit tests: each resource's inputs come back as its outputs and are recorded."""

import asyncio

import pulumi
import pytest
from pulumi.runtime.settings import set_root_resource


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registered resource's outputs by ``name|type`` in ``resources``."""

    def __init__(self):
        self.resources: dict[str, dict] = {}

    def outputs(self, args: pulumi.runtime.MockResourceArgs) -> dict:
        """The outputs a resource gets: its inputs (subclasses add what a provider would)."""
        return dict(args.inputs)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        outputs = self.outputs(args)
        self.resources[f"{args.name}|{args.typ}"] = outputs
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.fixture(autouse=True)
def an_event_loop() -> None:
    """An open current event loop for every test: the SDK registers resources (and mocks) on it,
    and a test before may have ended with none set (``asyncio.run`` leaves none). With a new loop
    the SDK's root stack resource goes too: ``set_mocks`` makes one only when there is none, and
    one made on the former loop holds futures no later test can await ("await wasn't used with
    future" in whichever Pulumi-mocks test ran next)."""
    try:
        if not asyncio.get_event_loop_policy().get_event_loop().is_closed():
            return
    except RuntimeError:
        pass
    asyncio.set_event_loop(asyncio.new_event_loop())
    set_root_resource(None)


@pytest.fixture
def mocks() -> RecordingMocks:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    return mocks
