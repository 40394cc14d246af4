"""Pulumi mocks for the unit tests: each resource's inputs come back as its outputs and are recorded."""

import pulumi
import pytest


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


@pytest.fixture
def mocks() -> RecordingMocks:
    mocks = RecordingMocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    return mocks
