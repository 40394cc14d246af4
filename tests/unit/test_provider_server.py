"""The provider plugin's server (openclaw_fleet/providers/server.py) runs more than the SDK's four calls at once
and stores outputs without what the inputs hold, and resources without their pickled provider."""

import base64
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dill
import grpc
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.unit.echo_provider import EchoProvider
from tests.unit.slow_provider import SlowCheckProvider

ROOT = Path(__file__).resolve().parents[2]
CALLS = 8  # each takes 1 s: 2 s or more on the SDK's 4 threads


def test_eight_slow_calls_run_at_once():
    server = start_server()
    try:
        port = int(server.stdout.readline())
        provider = base64.b64encode(dill.dumps(SlowCheckProvider())).decode()
        news = struct_pb2.Struct()
        news.update({"__provider": provider})
        request = provider_pb2.CheckRequest(urn="urn:pulumi:s::p::pulumi-python:dynamic:Resource::r", news=news)
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            stub.Check(request, timeout=60)  # once first: the provider is unpickled and configured
            started = time.monotonic()
            with ThreadPoolExecutor(CALLS) as pool:
                list(pool.map(lambda _: stub.Check(request, timeout=60), range(CALLS)))
            elapsed = time.monotonic() - started
        assert elapsed < 1.8, f"{CALLS} one-second calls took {elapsed:.1f}s: they did not all run at once"
    finally:
        server.kill()
        server.wait()


def test_outputs_are_stored_without_the_inputs_and_old_outputs_are_handed_over_with_them():
    """Create and Update answer only the outputs that differ from the inputs (the pickled provider
    too); Diff, Update, Read and Delete put the old inputs the engine sends back under the old
    outputs, so the provider sees them whole (EchoProvider raises KeyError otherwise)."""
    server = start_server()
    try:
        port = int(server.stdout.readline())
        inputs = {"__provider": base64.b64encode(dill.dumps(EchoProvider())).decode(), "size": 1.0, "name": "a"}
        urn = "urn:pulumi:s::p::pulumi-python:dynamic:Resource::r"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            created = stub.Create(provider_pb2.CreateRequest(urn=urn, properties=struct(inputs)), timeout=60)
            outputs = dict(created.properties)
            assert outputs == {"made": "at create"}
            # what an older version of this project would be handed, read back whole by a refresh
            whole = start_server({"OPENCLAW_FLEET_WHOLE_OUTPUTS": "1"})
            try:
                with grpc.insecure_channel(f"127.0.0.1:{int(whole.stdout.readline())}") as whole_channel:
                    refreshed = provider_pb2_grpc.ResourceProviderStub(whole_channel).Read(
                        provider_pb2.ReadRequest(
                            id="echo-1", urn=urn, properties=struct(outputs), inputs=struct(inputs)
                        ),
                        timeout=60,
                    )
                assert dict(refreshed.properties) == {**inputs, "made": "at create", "seen": 1.0}
            finally:
                whole.kill()
                whole.wait()

            def diff(news: dict) -> int:
                request = provider_pb2.DiffRequest(
                    id="echo-1", urn=urn, olds=struct(outputs), old_inputs=struct(inputs), news=struct(news)
                )
                return stub.Diff(request, timeout=60).changes

            assert diff(inputs) == provider_pb2.DiffResponse.DIFF_NONE
            assert diff({**inputs, "size": 2.0}) == provider_pb2.DiffResponse.DIFF_SOME

            news = {**inputs, "size": 2.0}
            updated = stub.Update(
                provider_pb2.UpdateRequest(
                    id="echo-1", urn=urn, olds=struct(outputs), old_inputs=struct(inputs), news=struct(news)
                ),
                timeout=60,
            )
            assert dict(updated.properties) == {"made": "at create", "was": 1.0}

            read = stub.Read(
                provider_pb2.ReadRequest(
                    id="echo-1", urn=urn, properties=struct(dict(updated.properties)), inputs=struct(news)
                ),
                timeout=60,
            )
            assert dict(read.properties) == {"made": "at create", "was": 1.0, "seen": 2.0}

            stub.Delete(
                provider_pb2.DeleteRequest(
                    id="echo-1", urn=urn, properties=struct(dict(read.properties)), old_inputs=struct(news)
                ),
                timeout=60,
            )
    finally:
        server.kill()
        server.wait()


def test_a_resource_of_this_project_is_served_and_stored_without_its_pickled_provider():
    """The program sends no ``__provider``: every call gets it from the resource's type, Check and
    Create answer without it, and with ``OPENCLAW_FLEET_WHOLE_OUTPUTS=1`` a Read answers it among
    the outputs and the inputs (what an older version reads)."""
    urn = "urn:pulumi:s::p::openclaw:fleet:FlyGateway$pulumi-python:dynamic/fleet:GatewayToken::u"
    inputs = struct({"rotation": 0.0})
    server, whole = start_server(), start_server({"OPENCLAW_FLEET_WHOLE_OUTPUTS": "1"})
    try:
        with (
            grpc.insecure_channel(f"127.0.0.1:{int(server.stdout.readline())}") as channel,
            grpc.insecure_channel(f"127.0.0.1:{int(whole.stdout.readline())}") as whole_channel,
        ):
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            checked = stub.Check(provider_pb2.CheckRequest(urn=urn, olds=struct({}), news=inputs), timeout=60)
            assert list(checked.failures) == [] and dict(checked.inputs) == dict(inputs)
            created = stub.Create(provider_pb2.CreateRequest(urn=urn, properties=checked.inputs), timeout=60)
            assert sorted(created.properties) == ["adopted", "token"]
            assert len(created.properties["token"]) == 64
            diff = stub.Diff(
                provider_pb2.DiffRequest(
                    id=created.id, urn=urn, olds=created.properties, old_inputs=inputs, news=checked.inputs
                ),
                timeout=60,
            )
            assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE

            read = provider_pb2_grpc.ResourceProviderStub(whole_channel).Read(
                provider_pb2.ReadRequest(id=created.id, urn=urn, properties=created.properties, inputs=inputs),
                timeout=60,
            )
            provider = read.properties["__provider"]
            assert dill.loads(base64.b64decode(provider)).__class__.__name__ == "GatewayTokenProvider"
            assert dict(read.inputs) == {**dict(inputs), "__provider": provider}
            stub.Delete(
                provider_pb2.DeleteRequest(id=created.id, urn=urn, properties=created.properties, old_inputs=inputs),
                timeout=60,
            )
    finally:
        for process in (server, whole):
            process.kill()
            process.wait()


def struct(values: dict) -> struct_pb2.Struct:
    made = struct_pb2.Struct()
    made.update(values)
    return made


def start_server(env: dict[str, str] | None = None) -> subprocess.Popen:
    """The provider server in a process of its own; its first line of output is its port."""
    return subprocess.Popen(
        [sys.executable, "-u", "-m", "openclaw_fleet.providers.server"],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
