"""The Python dynamic-provider plugin's server, with room for as many calls as the engine sends.

The engine runs every dynamic resource of a stack through one plugin process,
``pulumi-resource-pulumi-python``, which starts the SDK's gRPC server (``python -m
pulumi.dynamic``) with ``ThreadPoolExecutor(max_workers=4)`` (``pulumi/dynamic/__main__.py``, 3.259.0).
A provider call here mostly waits on the Fly or Docker API (a machine start, a gateway's health),
so four threads cap a whole fleet at four API calls in flight whatever ``--parallel`` says.

``python -m openclaw_fleet.providers.server`` runs that same SDK module unchanged, with its thread
pool widened to ``OPENCLAW_FLEET_PROVIDER_THREADS`` (default 32, at least the SDK's 4).
``bin/setup`` installs the plugin script that starts it.

The SDK's server also never checks that its engine is still there, so a provider whose CLI was
killed served nobody for as long as the machine ran. Here a watchdog connects to the engine's
address (the plugin's first argument) every 2 s and ends the process once three tries in a row
are refused, as Pulumi's own plugins do with their engine health check.

And it ends on SIGINT, with which the engine stops a plugin it is done with before killing it
5 s later (``sdk/go/common/resource/plugin/plugin.go``): Python leaves SIGINT ignored in a
process started with it ignored (a job a non-interactive shell put in the background, ``nohup``),
and the SDK's server then only ended at the kill (Python's ``signal`` docs).
"""

import os
import re
import runpy
import signal
import socket
import sys
import threading
import time
from concurrent import futures

THREADS = max(4, int(os.environ.get("OPENCLAW_FLEET_PROVIDER_THREADS") or 32))


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


_engine = next((arg for arg in sys.argv[1:] if re.fullmatch(r"[\w.\-]+:\d+", arg)), None)
if _engine:
    threading.Thread(target=_exit_when_the_engine_is_gone, args=(_engine,), daemon=True).start()
# The SDK's server stops on KeyboardInterrupt, which an ignored SIGINT never raises.
signal.signal(signal.SIGINT, signal.default_int_handler)
# The SDK's server looks the class up on `concurrent.futures` when it starts.
futures.ThreadPoolExecutor = _WiderPool
runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)
