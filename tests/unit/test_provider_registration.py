"""Registering many dynamic resources: none carries a pickled provider, so the SDK's pickler
patching (which used to overflow the stack after about 500 resources) never runs, and the provider
server finds each resource's provider by its type."""

import base64
import pickle

import dill
import pulumi

from openclaw_fleet.providers import base
from openclaw_fleet.providers.fly import app as app_module
from openclaw_fleet.providers.fly.app import App, AppArgs


class Stateful:
    """An object whose pickle holds a dict, as a provider with settings would."""

    def __init__(self):
        self.settings = {"b": 2, "a": 1}


@pulumi.runtime.test
def test_a_thousand_resources_leave_the_pickler_as_it_was_and_carry_no_provider(mocks):
    before = pickle._Pickler._batch_setitems, pickle._Pickler.save_dict
    apps = [App(f"app-{i}", AppArgs(name=f"openclaw-u-{i}", org_slug="personal")) for i in range(1000)]
    assert (pickle._Pickler._batch_setitems, pickle._Pickler.save_dict) == before
    dill.dumps(Stateful(), recurse=True)  # would raise RecursionError under a pile of wrappers

    def check(_):
        assert len(mocks.resources) == 1000
        assert [name for name, inputs in mocks.resources.items() if "__provider" in inputs] == []

    return pulumi.Output.all(*[app.id for app in apps[-3:]]).apply(check)


def test_every_resource_type_names_its_own_modules_provider_in_a_short_reference():
    provider = base.provider_of_type("pulumi-python:dynamic/fly:App")
    assert len(provider) < 80  # a reference: the SDK's pickle of the object was 104 characters
    assert dill.loads(base64.b64decode(provider)) is app_module.PROVIDER
    kinds = sorted(base.KINDS)
    assert len(kinds) == 10 and "pulumi-python:dynamic/docker:Container" in kinds  # every module imported
    for type_token, kind in base.KINDS.items():
        assert dill.loads(base64.b64decode(base.provider_of_type(type_token))) is kind.dynamic_provider
    assert base.provider_of_type("pulumi-python:dynamic:Resource") is None  # not one of this project's
