"""The progress line names the steps running longest (the image build, a machine waiting for its
checks) with how long each has run, and drops a step once it ends."""

import io
import time
from types import SimpleNamespace

from openclaw_fleet.cli.progress import Progress

STACK = "urn:pulumi:dev::openclaw-fleet::"


def event(kind: str, urn: str, type_: str, op: str) -> SimpleNamespace:
    meta = SimpleNamespace(urn=urn, type=type_, op=op, new=None, old=None)
    parts = dict.fromkeys(("resource_pre_event", "res_outputs_event", "res_op_failed_event", "summary_event"))
    return SimpleNamespace(**{**parts, kind: SimpleNamespace(metadata=meta)})


def test_the_longest_running_steps_are_named_until_they_end():
    progress = Progress("up", 1, out=io.StringIO(), interval_s=0.01, quiet=True)
    image = f"{STACK}openclaw:fleet:GatewayImage$pulumi-python:dynamic/docker:Image::gateway"
    machine = f"{STACK}openclaw:fleet:FlyGateway$pulumi-python:dynamic/fly:Machine::oc-u-ada"
    progress.on_event("dev", event("resource_pre_event", image, "pulumi-python:dynamic/docker:Image", "create"))
    time.sleep(0.05)
    progress.on_event("dev", event("resource_pre_event", machine, "pulumi-python:dynamic/fly:Machine", "update"))
    time.sleep(0.05)
    line = progress.line()
    assert "; longest: Image gateway (create, 0 s), Machine oc-u-ada (update, 0 s)" in line
    progress.on_event("dev", event("res_outputs_event", image, "pulumi-python:dynamic/docker:Image", "create"))
    assert "longest: Machine oc-u-ada (update" in progress.line() and "Image gateway" not in progress.line()
