"""Where the Python SDK's cost per resource grows with a shard's size, and what the program does about it.

The SDK records with every resource the whole call stack that created it
(``pulumi/runtime/resource.py``, ``_get_stack_trace``, 3.259.0): besides the program's own
frames, every frame down to the interpreter's entry point (``runpy``, the language host's
runner, the SDK's event loop), and its innermost program frame again as the ``sourcePosition``.
The engine stores both in the checkpoint: ~1.5 KB a resource, half of a user's 32 KB then,
rewritten with the whole file after every step on the file backend. Here every user's resources
are declared on the same lines of the gateway components, so those lines say nothing about a
user, 1,000 times over; ``without_declaration_sites`` sends neither.

The SDK also sends the engine four or more debug messages per resource it registers
(``pulumi/runtime/resource.py``: "registering resource", "prepared", "RPC prepared",
"successful"), each a synchronous gRPC call, shown only with ``--debug`` logging.
``without_sdk_debug_logs`` drops them unless ``OPENCLAW_FLEET_SDK_DEBUG=1``.

After the program's body has run, the SDK waits for every ``Output`` still pending
(``wait_for_rpcs`` in ``pulumi/runtime/stack.py``, 3.259.0, and unchanged in 3.272.0; the loop
replaced a busy wait in pulumi/pulumi#22411): ``asyncio.wait(all pending, FIRST_COMPLETED)``
again and again, which hangs a callback on each pending output and takes them all off again
each time one resolves. Every resource has an ``Output`` per property, so a shard of 50 users
has about 5,700 pending when the wait begins, and the loop wakes about 180 times, hanging about
380,000 callbacks in all: about 1.3 s of the program's 3.5 s of CPU in a no-op preview, growing
with the square of the shard's size. ``outputs_awaited_together`` waits for them all at once
first, so the SDK's loop finds them resolved.

And every ``Output``, future and registration request the SDK makes per resource is a container
Python's cyclic garbage collector tracks: at its default threshold (a collection of the youngest
generation every 700 net allocations, Python's ``gc`` docs) a no-op preview of a 50-user shard ran
about 300 collections, 0.28 of the program's 1.4 CPU-s. ``fewer_garbage_collections`` raises that
threshold for the program's short life.
"""

from __future__ import annotations

import asyncio
import gc
import os

import pulumi
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import stack as sdk_stack
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import SETTINGS


def without_declaration_sites() -> None:
    """From now on, register resources with an empty stack trace and no source position.

    The SDK takes both in ``Resource.__init__`` (``_get_stack_trace``, then
    ``_get_source_position`` of that trace; ``pulumi/runtime/resource.py``, 3.259.0). The
    engine omits the empty ones from the checkpoint; nothing in the engine's steps reads them.
    Also spares the SDK's ``traceback.extract_stack()``, which reads every frame's source line
    (0.13–0.15 CPU-s a shard of 50 users).
    """
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    sdk_resource._get_source_position = lambda _trace: None


def fewer_garbage_collections(allocations: int = 50_000) -> None:
    """From now on, collect the youngest generation every ``allocations`` net allocations instead
    of 700 (``gc.set_threshold``; the older generations' ratios stay). Reference counting still
    frees everything not in a cycle at once; a cycle waits a little longer. A 50-user shard's no-op
    preview: 46 collections (most while the modules are imported), 0.05 CPU-s, against about 300
    and 0.28 CPU-s; the program's CPU 0.9–1.2 s in four runs, against 1.4 s in two."""
    gc.set_threshold(allocations)


def without_sdk_debug_logs() -> None:
    """From now on, the SDK's ``pulumi.log.debug`` sends nothing, unless ``OPENCLAW_FLEET_SDK_DEBUG=1``."""
    if os.environ.get("OPENCLAW_FLEET_SDK_DEBUG") != "1":
        pulumi.log.debug = lambda *args, **kwargs: None


def outputs_awaited_together() -> None:
    """From now on, the SDK's final wait (``wait_for_rpcs``) first waits for the pending
    ``Output``s all at once (``asyncio.wait``, one callback each), again for those created
    meanwhile (by ``apply``), then runs as before: it awaits the resolved outputs and the
    outstanding RPCs, raising the first failure as it did. An output that fails other than by a
    registration the engine reported failed (continue-on-error: the SDK ignores those) ends the
    early wait at once, so the failure is raised as soon as before. The program's result is the
    same; the callbacks hung go from about pending × wake-ups to about pending."""
    sdk_wait = sdk_stack.wait_for_rpcs

    async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
        while await_all_outstanding_tasks:
            with SETTINGS.lock:
                pending = [output for output in SETTINGS.outputs if not output.done()]
            if not pending:
                break
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            if any(_fails_the_program(output) for output in done):
                break
        await sdk_wait(await_all_outstanding_tasks)

    sdk_stack.wait_for_rpcs = wait_for_rpcs


def _fails_the_program(output: asyncio.Future) -> bool:
    if output.cancelled():
        return True
    error = output.exception()
    return error is not None and not isinstance(error, sdk_stack.ResourceRegistrationFailed)
