"""What the program's resources put in the checkpoint beyond their properties.

The Python SDK records with every resource the whole call stack that created it
(``pulumi/runtime/resource.py``, ``_get_stack_trace``, 3.259.0): besides the program's own
frames, every frame down to the interpreter's entry point (``runpy``, the language host's
runner, the SDK's event loop). The engine stores it in the checkpoint as the resource's
``stackTrace``: ~1.5 KB a resource, half of a user's 32 KB, rewritten with the whole file after
every step on the file backend. The frame that says where a resource was declared is the
program's innermost one (the engine also stores it as the ``sourcePosition``), so
``program_frames_only`` records that frame alone.

The SDK also sends the engine four or more debug messages per resource it registers
(``pulumi/runtime/resource.py``: "registering resource", "prepared", "RPC prepared",
"successful"), each a synchronous gRPC call, shown only with ``--debug`` logging.
``without_sdk_debug_logs`` drops them unless ``OPENCLAW_FLEET_SDK_DEBUG=1``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pulumi
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime.proto import source_pb2


def program_frames_only(program_dir: Path) -> None:
    """From now on, record as each resource's stack trace only its innermost frame in a file
    under ``program_dir`` (its virtualenv excepted)."""
    root = program_dir.resolve().as_uri() + "/"
    venv = program_dir.resolve().joinpath(".venv").as_uri() + "/"
    full_trace = sdk_resource._get_stack_trace

    def trace() -> source_pb2.StackTrace:
        frames = full_trace().frames
        kept = [f for f in frames if f.pc.uri.startswith(root) and not f.pc.uri.startswith(venv)]
        return source_pb2.StackTrace(frames=(kept or frames)[:1])

    sdk_resource._get_stack_trace = trace


def without_sdk_debug_logs() -> None:
    """From now on, the SDK's ``pulumi.log.debug`` sends nothing, unless ``OPENCLAW_FLEET_SDK_DEBUG=1``."""
    if os.environ.get("OPENCLAW_FLEET_SDK_DEBUG") != "1":
        pulumi.log.debug = lambda *args, **kwargs: None
