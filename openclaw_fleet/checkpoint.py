"""What the program's resources put in the checkpoint beyond their properties.

The Python SDK records with every resource the whole call stack that created it
(``pulumi/runtime/resource.py``, ``_get_stack_trace``, 3.259.0): besides the program's own
frames, every frame down to the interpreter's entry point (``runpy``, the language host's
runner, the SDK's event loop). The engine stores it in the checkpoint as the resource's
``stackTrace``: ~1.5 KB a resource, half of a user's 32 KB, rewritten with the whole file after
every step on the file backend. The frame that says where a resource was declared is the
program's innermost one (the engine also stores it as the ``sourcePosition``), so
``program_frames_only`` records that frame alone.
"""

from __future__ import annotations

from pathlib import Path

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
