"""The provider plugin's server (openclaw_fleet/providers/server.py) runs more than the SDK's four calls at once
and stores outputs without what the inputs hold."""

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

    def struct(values: dict) -> struct_pb2.Struct:
        made = struct_pb2.Struct()
        made.update(values)
        return made

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
