"""The provider plugin's server (openclaw_fleet/providers/server.py) runs more than the SDK's four calls at once."""

import base64
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import dill
import grpc
from google.protobuf import struct_pb2
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from tests.unit.slow_provider import SlowCheckProvider

ROOT = Path(__file__).resolve().parents[2]
CALLS = 8  # each takes 1 s: 2 s or more on the SDK's 4 threads


def test_eight_slow_calls_run_at_once():
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "openclaw_fleet.providers.server"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
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
