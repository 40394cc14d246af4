"""The dynamic-provider plugin's server: the SDK's own (``python -m pulumi.dynamic``), with changes.

The plugin script beside this module starts it; ``Pulumi.yaml`` names that folder for the
``pulumi-python`` plugin, so the engine runs it on any Pulumi install. Against the SDK's server it:

- serves ``OPENCLAW_FLEET_PROVIDER_THREADS`` calls at once (default 32), not four: a call mostly
  waits on Fly or Docker (``sdk_workarounds.for_provider_server``);
- ends when its engine is gone (three refused connections in a row, every 2 s), as Pulumi's own
  plugins do, and on SIGINT, with which the engine stops a plugin;
- answers a ``ResourceInitFailed`` from ``create`` or ``update`` as the engine's partial failure
  (``pulumirpc.ErrorResourceInitFailed`` in the gRPC status details, ``proto/pulumi/provider.proto``),
  so the resource is recorded and the next ``up`` updates it;
- stores outputs without what the inputs hold, and resources without their pickled provider:
  every call that hands a provider old outputs first puts back the old inputs (where a key is
  missing) and the ``__provider`` of the resource's type (``base.provider_of_type``), so a
  provider sees what the SDK's server would have given it. A program reads such a value from
  what it passed, never from the output (a preview resolves an output the engine did not return
  as unknown). ``OPENCLAW_FLEET_WHOLE_OUTPUTS=1`` stores them whole (``compat/``).
"""

import asyncio
import os
import re
import runpy
import socket
import sys
import threading
import time
from typing import Any

import grpc
from google.protobuf import any_pb2, struct_pb2
from google.rpc import status_pb2
from pulumi.dynamic.dynamic import PROVIDER_KEY
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2

import openclaw_fleet.compat.former_paths  # noqa: F401 (resources stored with a former provider path)
from openclaw_fleet.compat import whole_outputs
from openclaw_fleet.environment import PROVIDER_THREADS
from openclaw_fleet.errors import ResourceInitFailed
from openclaw_fleet.providers.base import provider_of_type
from openclaw_fleet.sdk_workarounds import for_provider_server

THREADS = max(4, int(os.environ.get(PROVIDER_THREADS) or 32))
WHOLE_OUTPUTS = whole_outputs()


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
        return self._made(self._servicer.Create, request, request.properties, context)

    def Update(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (gRPC's name)
        request = _completed(request, ("olds", "news"), request.old_inputs)
        return self._made(self._servicer.Update, request, request.news, context)

    def _made(self, call: Any, request: Any, inputs: struct_pb2.Struct, context: grpc.ServicerContext) -> Any:
        """The SDK's ``call`` (Create or Update) of ``request``: its outputs without what ``inputs``
        hold, or the engine's partial failure for a ``ResourceInitFailed``."""
        try:
            response = call(request, context)
        except ResourceInitFailed as failed:
            _abort_as_init_failure(context, failed, inputs)
        _drop_inputs(response.properties, inputs)
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


_engine = next((arg for arg in sys.argv[1:] if re.fullmatch(r"[\w.\-]+:\d+", arg)), None)
if _engine:
    threading.Thread(target=_exit_when_the_engine_is_gone, args=(_engine,), daemon=True).start()
for_provider_server(FleetServicer, THREADS)
runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)
