"""The Python dynamic-provider plugin's server, with room for as many calls as the engine sends.

The engine runs every dynamic resource of a stack through one plugin process,
``pulumi-resource-pulumi-python``, which starts the SDK's gRPC server (``python -m
pulumi.dynamic``) with ``ThreadPoolExecutor(max_workers=4)`` (``pulumi/dynamic/__main__.py``, 3.259.0).
A provider call here mostly waits on the Fly or Docker API (a machine start, a gateway's health),
so four threads cap a whole fleet at four API calls in flight whatever ``--parallel`` says.

``python -m openclaw_fleet.providers.server`` runs that same SDK module unchanged, with its thread
pool widened to ``OPENCLAW_FLEET_PROVIDER_THREADS`` (default 32, at least the SDK's 4).
The plugin script beside this module starts it; ``Pulumi.yaml`` names that folder for the
``pulumi-python`` plugin, so the engine runs it on any Pulumi install.

The SDK's server also never checks that its engine is still there, so a provider whose CLI was
killed served nobody for as long as the machine ran. Here a watchdog connects to the engine's
address (the plugin's first argument) every 2 s and ends the process once three tries in a row
are refused, as Pulumi's own plugins do with their engine health check.

It also reports a resource that was made but did not come up (a provider's ``create`` or
``update`` raising ``ResourceInitFailed``) as Pulumi's partial failure: a gRPC error carrying
``pulumirpc.ErrorResourceInitFailed`` with the resource's id and outputs
(``proto/pulumi/provider.proto``), so the engine records the resource with the failure and its
next ``up`` updates it, where the SDK's server loses it (any exception becomes a bare error).

And it stores each resource's outputs without what its inputs already hold: a dynamic provider
returns its inputs among its outputs (the SDK's server adds the pickled provider besides), and the
engine records both, so every input was in the checkpoint twice, about 1.4 KB a Fly user. Create,
Update and Read answer the outputs that differ from the inputs (by value, as the engine sent them),
and every call that hands a provider old outputs (Diff, Update, Delete, Read) first puts back the old
inputs the engine sends with it (``old_inputs``, ``inputs``), where the outputs lack a key. A
provider therefore sees what the SDK's server would have given it. A program reads such a value
from what it passed, never from the resource's output: in a preview the SDK resolves an output
the engine did not return as unknown (``resolve_outputs``, ``pulumi/runtime/rpc.py``).

Nor does the state hold the pickled provider (``__provider``), which the SDK's server reads from
a resource's properties in every call: the program does not send it, Check answers the inputs
without it, and every call gets it back from the resource's type (``base.provider_of_type``). A
resource stored with it (by an earlier version, or of a type that is not this project's) keeps it.

And it ends on SIGINT, with which the engine stops a plugin it is done with before killing it
5 s later (``sdk/go/common/resource/plugin/plugin.go``): Python leaves SIGINT ignored in a
process started with it ignored (a job a non-interactive shell put in the background, ``nohup``),
and the SDK's server then only ended at the kill (Python's ``signal`` docs).
"""

import asyncio
import os
import re
import runpy
import signal
import socket
import sys
import threading
import time
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import any_pb2, struct_pb2
from google.rpc import status_pb2
from pulumi.dynamic.dynamic import PROVIDER_KEY
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from openclaw_fleet.errors import ResourceInitFailed
from openclaw_fleet.providers.base import provider_of_type

THREADS = max(4, int(os.environ.get("OPENCLAW_FLEET_PROVIDER_THREADS") or 32))
# Whole outputs and inputs with their provider, as the SDK's server stores them: set for the refresh
# that readies a stack for a version of this project from before outputs left out the inputs
# (README, "Going back").
WHOLE_OUTPUTS = os.environ.get("OPENCLAW_FLEET_WHOLE_OUTPUTS") == "1"


class _WiderPool(futures.ThreadPoolExecutor):
    def __init__(self, max_workers: int | None = None, *args, **kwargs):
        super().__init__(max(max_workers or 0, THREADS), *args, **kwargs)


def _exit_when_the_engine_is_gone(address: str) -> None:
    host, _, port = address.rpartition(":")
    refused = 0
    while refused < 3:
        time.sleep(2)
        try:
            socket.create_connection((host or "127.0.0.1", int(port)), timeout=2).close()
            refused = 0
        except ConnectionRefusedError:
            refused += 1
        except OSError:
            pass  # a slow answer on a busy machine says nothing either way
    os._exit(1)


class FleetServicer:
    """The SDK's servicer, with resources stored without their pickled provider and outputs
    without what the inputs hold, and ``Create`` and ``Update`` answering a ``ResourceInitFailed``
    as the engine's partial failure; every other call goes to the SDK's servicer as it is."""

    def __init__(self, servicer: Any):
        self._servicer = servicer

    def __getattr__(self, name: str) -> Any:
        return getattr(self._servicer, name)

    def Check(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        response = self._servicer.Check(_completed(request, ("olds", "news")), context)
        _drop_provider(response.inputs, request.urn)
        return response

    def Create(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        request = _completed(request, ("properties",))
        try:
            response = self._servicer.Create(request, context)
        except ResourceInitFailed as failed:
            _abort_as_init_failure(context, failed, request.properties)
        _drop_inputs(response.properties, request.properties)
        return response

    def Update(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        request = _completed(request, ("olds", "news"), request.old_inputs)
        try:
            response = self._servicer.Update(request, context)
        except ResourceInitFailed as failed:
            _abort_as_init_failure(context, failed, request.news)
        _drop_inputs(response.properties, request.news)
        return response

    def Diff(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        return self._servicer.Diff(_completed(request, ("olds", "news"), request.old_inputs), context)

    def Delete(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        return self._servicer.Delete(_completed(request, ("properties",), request.old_inputs), context)

    def Read(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        completed = _completed(request, ("properties", "inputs"), request.inputs)
        response = self._servicer.Read(completed, context)
        if WHOLE_OUTPUTS and not response.HasField("inputs") and request.inputs.fields:
            response.inputs.CopyFrom(completed.inputs)  # the inputs with their provider, as the SDK stored them
        _drop_inputs(response.properties, response.inputs if response.HasField("inputs") else completed.inputs)
        _drop_provider(response.inputs, request.urn)
        return response


def _completed(request: Any, fields: tuple[str, ...], old_inputs: struct_pb2.Struct | None = None) -> Any:
    """A copy of ``request`` whose first field (the old outputs, or the properties) also holds the
    keys of ``old_inputs`` it lacks, and each of ``fields`` the resource's ``__provider`` (by the
    type in its URN) where it has none."""
    completed = type(request)()
    completed.CopyFrom(request)
    if old_inputs is not None:
        outputs = getattr(completed, fields[0])
        for key, value in old_inputs.fields.items():
            if key not in outputs.fields:
                outputs.fields[key].CopyFrom(value)
    provider = provider_of_type(_type_of(request.urn))
    if provider is not None:
        for field in fields:
            properties = getattr(completed, field)
            if PROVIDER_KEY not in properties.fields:
                properties.fields[PROVIDER_KEY].string_value = provider
    return completed


def _type_of(urn: str) -> str:
    """The type token of ``urn`` (``urn:pulumi:<stack>::<project>::<parent types>$<type>::<name>``)."""
    return urn.split("::")[2].rsplit("$", 1)[-1]


def _drop_provider(inputs: struct_pb2.Struct, urn: str) -> None:
    """Remove ``__provider`` from ``inputs`` the engine stores, when the provider server can put it
    back by the resource's type (never with ``OPENCLAW_FLEET_WHOLE_OUTPUTS=1``)."""
    if not WHOLE_OUTPUTS and PROVIDER_KEY in inputs.fields and provider_of_type(_type_of(urn)) is not None:
        del inputs.fields[PROVIDER_KEY]


def _drop_inputs(outputs: struct_pb2.Struct, inputs: struct_pb2.Struct) -> None:
    """Remove from ``outputs`` every key whose value is the same in ``inputs`` (none with
    ``OPENCLAW_FLEET_WHOLE_OUTPUTS=1``)."""
    if WHOLE_OUTPUTS:
        return
    for key in [key for key, value in outputs.fields.items() if key in inputs.fields and inputs.fields[key] == value]:
        del outputs.fields[key]


def _abort_as_init_failure(context: grpc.ServicerContext, failed: ResourceInitFailed, inputs: Any) -> None:
    """End the call with ``failed`` as a ``google.rpc.Status`` detail, where the engine reads it
    (``grpc-status-details-bin``, gRPC's rich error model), its outputs without what ``inputs``
    hold, as any call's. The inputs are not sent back: the engine keeps the step's own, with their
    secrets marked."""
    outs = asyncio.run(rpc.serialize_properties(failed.outs, {}))
    _drop_inputs(outs, inputs)
    detail = any_pb2.Any()
    detail.Pack(provider_pb2.ErrorResourceInitFailed(id=failed.resource_id, properties=outs, reasons=[str(failed)]))
    status = status_pb2.Status(code=grpc.StatusCode.UNKNOWN.value[0], message=str(failed), details=[detail])
    context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
    context.abort(grpc.StatusCode.UNKNOWN, str(failed))


def _add_servicer(servicer: Any, server: grpc.Server) -> None:
    _add_sdk_servicer(FleetServicer(servicer), server)


_engine = next((arg for arg in sys.argv[1:] if re.fullmatch(r"[\w.\-]+:\d+", arg)), None)
if _engine:
    threading.Thread(target=_exit_when_the_engine_is_gone, args=(_engine,), daemon=True).start()
# The SDK's server stops on KeyboardInterrupt, which an ignored SIGINT never raises.
signal.signal(signal.SIGINT, signal.default_int_handler)
# The SDK's server looks the class up on `concurrent.futures`, and the servicer's registration
# on `provider_pb2_grpc`, when it starts.
futures.ThreadPoolExecutor = _WiderPool
_add_sdk_servicer = provider_pb2_grpc.add_ResourceProviderServicer_to_server
provider_pb2_grpc.add_ResourceProviderServicer_to_server = _add_servicer
runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)
