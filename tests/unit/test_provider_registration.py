"""Registering many dynamic resources: every one names its module's provider object in a short
reference, and the SDK's pickler patching never piles up (it used to overflow the stack after
about 500 resources)."""

import base64
import pickle

import dill
import pulumi

from openclaw_fleet.providers.fly import app as app_module
from openclaw_fleet.providers.fly.app import App, AppArgs


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
        providers = {outputs["__provider"] for outputs in mocks.resources.values()}
        assert len(mocks.resources) == 1000 and len(providers) == 1
        provider = providers.pop()
        assert len(provider) < 80  # a reference: the SDK's pickle of the object was 104 characters
        assert dill.loads(base64.b64decode(provider)) is app_module.PROVIDER

    return pulumi.Output.all(*[app.id for app in apps[-3:]]).apply(check)
