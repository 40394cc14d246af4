"""Registering many dynamic resources: the provider is serialized once per class and the SDK's
pickler patching does not pile up (it used to overflow the stack after about 500 resources)."""

import base64
import pickle

import dill
import pulumi
import pytest

from openclaw_fleet.providers.fly.app import App, AppArgs, AppProvider


class Mocks(pulumi.runtime.Mocks):
    def __init__(self):
        self.inputs: list[dict] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.inputs.append(dict(args.inputs))
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@pytest.fixture
def mocks():
    mocks = Mocks()
    pulumi.runtime.set_mocks(mocks, preview=False)
    return mocks


class Stateful:
    """An object whose pickle holds a dict, as a provider with settings would."""

    def __init__(self):
        self.settings = {"b": 2, "a": 1}


@pulumi.runtime.test
def test_a_thousand_resources_leave_the_pickler_as_it_was(mocks):
    before = pickle._Pickler._batch_setitems, pickle._Pickler.save_dict
    apps = [App(f"app-{i}", AppArgs(name=f"openclaw-u-{i}", org_slug="personal")) for i in range(1000)]
    assert (pickle._Pickler._batch_setitems, pickle._Pickler.save_dict) == before
    dill.dumps(Stateful(), recurse=True)  # would raise RecursionError under a pile of wrappers

    def check(_):
        providers = {inputs["__provider"] for inputs in mocks.inputs}
        assert len(mocks.inputs) == 1000 and len(providers) == 1
        assert isinstance(dill.loads(base64.b64decode(providers.pop())), AppProvider)

    return pulumi.Output.all(*[app.id for app in apps[-3:]]).apply(check)
