"""The Python dynamic-provider plugin's server, with room for as many calls as the engine sends.

The engine runs every dynamic resource of a stack through one plugin process,
``pulumi-resource-pulumi-python``, which starts the SDK's gRPC server (``python -m
pulumi.dynamic``) with ``ThreadPoolExecutor(max_workers=4)`` (``pulumi/dynamic/__main__.py``, 3.259.0).
A provider call here mostly waits on the Fly or Docker API (a machine start, a gateway's health),
so four threads cap a whole fleet at four API calls in flight whatever ``--parallel`` says.

``python -m openclaw_fleet.providers.server`` runs that same SDK module unchanged, with its thread
pool widened to ``OPENCLAW_FLEET_PROVIDER_THREADS`` (default 32, at least the SDK's 4).
``bin/setup`` installs the plugin script that starts it.
"""

import os
import runpy
from concurrent import futures

THREADS = max(4, int(os.environ.get("OPENCLAW_FLEET_PROVIDER_THREADS") or 32))


class _WiderPool(futures.ThreadPoolExecutor):
    def __init__(self, max_workers: int | None = None, *args, **kwargs):
        super().__init__(max(max_workers or 0, THREADS), *args, **kwargs)


# The SDK's server looks the class up on `concurrent.futures` when it starts.
futures.ThreadPoolExecutor = _WiderPool
runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)
