"""Every place openclaw-fleet changes how Pulumi's Python SDK behaves, in one module.

Each workaround is listed in ``WORKAROUNDS`` with why it exists, the upstream code or issue it
works around, the SDK code it relies on, and when it can go. ``for_program()`` (from
``__main__.py``) and ``for_provider_server()`` (from ``providers/server.py``) apply the patches
(the provider server's servicer and ``base.FleetResource``'s registration are written in those
modules; the Automation API paths the command takes around are in ``cli/stacks.py``), after
``check_sdk()`` refuses an SDK version they were not verified on: a patch of a private function
that changed upstream would otherwise break quietly. ``tests/unit/test_sdk_workarounds.py`` fails,
naming the workaround, when the SDK code one relies on is not the code it was verified against;
the behaviour each one gives is tested beside it. docs/design.md has the measurements.
"""

from __future__ import annotations

import ast
import asyncio
import gc
import hashlib
import importlib.util
import signal
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pulumi

from openclaw_fleet.environment import SDK_DEBUG, flag
from openclaw_fleet.errors import SdkNotVerified

VERIFIED_SDK = ("3.259.0",)
"""SDK releases (``pulumi`` on PyPI, pinned in requirements.txt) the workarounds were verified on."""


@dataclass(frozen=True)
class Workaround:
    """One change to the SDK's behaviour: ``relies_on`` maps SDK code (``module:qualname``) to its
    ``fingerprint`` in the verified release, so an upgrade shows which workaround to look at again."""

    name: str
    why: str
    upstream: str
    remove_when: str
    relies_on: dict[str, str]


WORKAROUNDS = (
    Workaround(
        "without_declaration_sites",
        "the SDK sends every resource's whole Python call stack, stored in the checkpoint (~1.5 KB a resource)",
        "pulumi/runtime/resource.py: _get_stack_trace, _get_source_position",
        "the SDK lets a program turn source positions off (no such option up to 3.259.0)",
        {
            "pulumi.runtime.resource:_get_stack_trace": "c1f8beec",
            "pulumi.runtime.resource:_get_source_position": "dd45f494",
            "pulumi.runtime.resource:register_resource": "32a9b485",
        },
    ),
    Workaround(
        "without_sdk_debug_logs",
        "the SDK sends four or more debug messages per resource, each a synchronous gRPC call",
        "pulumi/runtime/resource.py (log.debug calls); pulumi/log.py: debug",
        "the SDK skips debug messages the engine does not show",
        {"pulumi.log:debug": "766897f7"},
    ),
    Workaround(
        "outputs_awaited_together",
        "the SDK's final wait re-hangs a callback on every pending Output each time one resolves "
        "(quadratic in a shard's size)",
        "pulumi/runtime/stack.py: wait_for_rpcs (loop from pulumi/pulumi#22411)",
        "wait_for_rpcs waits for the pending outputs at once",
        {"pulumi.runtime.stack:wait_for_rpcs": "b3958c1b"},
    ),
    Workaround(
        "wider_provider_pool",
        "the dynamic provider server serves four calls at once whatever --parallel says",
        "pulumi/dynamic/__main__.py: main (ThreadPoolExecutor(max_workers=4))",
        "the SDK's provider server takes its thread count from the engine or the environment",
        {"pulumi.dynamic.__main__:main": "77f501f1"},
    ),
    Workaround(
        "fleet_servicer",
        "the SDK's servicer stores every input twice and the pickled provider in every resource, and "
        "loses a resource made but not ready (any exception is a bare error)",
        "pulumi/dynamic/__main__.py: DynamicResourceProviderServicer, get_provider",
        "the SDK's dynamic servicer supports partial failures and references to providers",
        {
            "pulumi.dynamic.__main__:main": "77f501f1",
            "pulumi.dynamic.__main__:get_provider": "36a42d0f",
            "pulumi.dynamic.__main__:DynamicResourceProviderServicer.Create": "5b28d113",
            "pulumi.dynamic.__main__:DynamicResourceProviderServicer.Update": "0bb695b2",
        },
    ),
    Workaround(
        "registered_without_pickled_provider",
        "pulumi.dynamic.Resource pickles the whole provider into every resource, and its pickler "
        "overflows the stack after about 500 resources (pulumi/pulumi#17803)",
        "pulumi/dynamic/dynamic.py: Resource.__init__, serialize_provider",
        "pulumi/pulumi#17803 is fixed and dynamic resources can name their provider by reference",
        {"pulumi.dynamic.dynamic:Resource.__init__": "3a72ee36"},
    ),
    # The Automation API paths the command takes around (openclaw_fleet/cli/stacks.py), so that a
    # release that changes what they stand in for is looked at again.
    Workaround(
        "operations_without_stack_methods",
        "Stack.up and Stack.destroy run three more CLI commands after the update (outputs twice, history) "
        "for a result the fleet does not use, and none of Stack.preview/up/refresh/destroy takes an environment "
        "of its own (only the workspace's, shared by every run of the stack); stacks.run_operation runs the one "
        "command with --event-log and the run's environment",
        "pulumi/automation/_stack.py: Stack.preview, Stack.up, Stack.refresh, Stack.destroy",
        "Stack operations take an environment per call and Stack.up can skip reading outputs and history",
        {
            "pulumi.automation._stack:Stack.preview": "f2ed4934",
            "pulumi.automation._stack:Stack.up": "bcefbedf",
            "pulumi.automation._stack:Stack.refresh": "74bc1143",
            "pulumi.automation._stack:Stack.destroy": "c3ffd385",
        },
    ),
    Workaround(
        "outputs_in_one_call",
        "Stack.outputs runs `pulumi stack output` twice (plain and with secrets); stacks.output_values runs it once",
        "pulumi/automation/_stack.py: Stack.outputs",
        "Stack.outputs reads the outputs once",
        {"pulumi.automation._stack:Stack.outputs": "4a3e66e5"},
    ),
    Workaround(
        "listed_stack_not_selected",
        "selecting a stack is one `pulumi stack select` per shard, and creating one through create_or_select "
        "first fails a select; ListedStackWorkspace selects nothing, open_stack creates or selects from the listing",
        "pulumi/automation/_stack.py: Stack.__init__, Stack.create_or_select; _local_workspace.py: select_stack",
        "the Automation API opens a listed stack without `pulumi stack select`",
        {
            "pulumi.automation._stack:Stack.__init__": "9d317416",
            "pulumi.automation._stack:Stack.create_or_select": "e4b2b9cc",
            "pulumi.automation._local_workspace:LocalWorkspace.select_stack": "5a89f18a",
        },
    ),
)


def fingerprint(reference: str) -> str:
    """The first 8 hex digits of the SHA-256 of the source of ``reference`` (``module:qualname``),
    read from the module's file without importing it (``pulumi.dynamic.__main__`` starts a server
    when imported). Raises LookupError when the SDK has no such code."""
    module_name, qualname = reference.split(":")
    spec = importlib.util.find_spec(module_name)
    source = Path(spec.origin).read_text() if spec and spec.origin else ""
    nodes: list[ast.AST] = [ast.parse(source)]
    for part in qualname.split("."):
        found = [
            node
            for parent in nodes
            for node in getattr(parent, "body", [])
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name == part
        ]
        if not found:
            raise LookupError(f"{reference} is not in the installed SDK")
        nodes = found
    return hashlib.sha256(ast.get_source_segment(source, nodes[0]).encode()).hexdigest()[:8]


def check_sdk(installed: str | None = None) -> None:
    """Raise SdkNotVerified, naming every workaround, unless the installed SDK is in VERIFIED_SDK."""
    installed = installed or version("pulumi")
    if installed not in VERIFIED_SDK:
        names = ", ".join(workaround.name for workaround in WORKAROUNDS)
        raise SdkNotVerified(
            f"the Pulumi Python SDK is {installed}, but openclaw-fleet's SDK workarounds ({names}) were verified on "
            f"{', '.join(VERIFIED_SDK)} only: install pulumi=={VERIFIED_SDK[-1]} (requirements.txt), or verify them on "
            f"{installed} (tests/unit/test_sdk_workarounds.py) and add it to VERIFIED_SDK"
        )


def for_program() -> None:
    """Apply the program's workarounds (after ``check_sdk``); call once, before any resource."""
    check_sdk()
    gc.set_threshold(50_000)  # Python's collector: fewer collections in a short-lived program
    without_declaration_sites()
    without_sdk_debug_logs()
    outputs_awaited_together()


def for_provider_server(wrap_servicer: Callable[[Any], Any], threads: int) -> None:
    """Apply the provider server's workarounds (after ``check_sdk``): the SDK's server, when its
    ``main`` runs, gets a thread pool of at least ``threads`` and registers ``wrap_servicer(its
    servicer)``; SIGINT ends it (an ignored SIGINT is inherited from a background job)."""
    check_sdk()
    from pulumi.runtime.proto import provider_pb2_grpc

    class WiderPool(futures.ThreadPoolExecutor):
        def __init__(self, max_workers: int | None = None, *args: Any, **kwargs: Any):
            super().__init__(max(max_workers or 0, threads), *args, **kwargs)

    register = provider_pb2_grpc.add_ResourceProviderServicer_to_server
    futures.ThreadPoolExecutor = WiderPool  # the SDK's main looks the class up here when it starts
    provider_pb2_grpc.add_ResourceProviderServicer_to_server = lambda servicer, server: register(
        wrap_servicer(servicer), server
    )
    signal.signal(signal.SIGINT, signal.default_int_handler)


def without_declaration_sites() -> None:
    """Register resources with an empty stack trace and no source position from now on."""
    from pulumi.runtime import resource as sdk_resource
    from pulumi.runtime.proto import source_pb2

    sdk_resource._get_stack_trace = source_pb2.StackTrace
    sdk_resource._get_source_position = lambda _trace: None


def without_sdk_debug_logs() -> None:
    """``pulumi.log.debug`` sends nothing from now on, unless ``OPENCLAW_FLEET_SDK_DEBUG=1``."""
    if not flag(SDK_DEBUG):
        pulumi.log.debug = lambda *args, **kwargs: None


def outputs_awaited_together() -> None:
    """The SDK's final wait first awaits every pending Output at once (and those made meanwhile),
    then runs as before; an output failing other than by a failed registration ends the early
    wait at once, so the failure is raised as soon as before."""
    from pulumi.runtime import stack as sdk_stack
    from pulumi.runtime.settings import SETTINGS

    sdk_wait = sdk_stack.wait_for_rpcs

    def fails_the_program(output: asyncio.Future) -> bool:
        if output.cancelled():
            return True
        error = output.exception()
        return error is not None and not isinstance(error, sdk_stack.ResourceRegistrationFailed)

    async def wait_for_rpcs(await_all_outstanding_tasks: bool = True) -> None:
        while await_all_outstanding_tasks:
            with SETTINGS.lock:
                pending = [output for output in SETTINGS.outputs if not output.done()]
            if not pending:
                break
            done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            if any(fails_the_program(output) for output in done):
                break
        await sdk_wait(await_all_outstanding_tasks)

    sdk_stack.wait_for_rpcs = wait_for_rpcs
