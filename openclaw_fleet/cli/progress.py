"""Live progress of a fleet run, from the engine events of every stack as they come.

A line every ``interval_s`` seconds: elapsed time, resources done by operation, in progress and
failed, users whose gateway has a step running, stacks finished, the stacks still running with their
own counts, and the steps running longest by name (``Image gateway (create, 48 s)``: the gateway
image being built; ``Machine openclaw-u-… (update, 31 s)``: a user's machine waiting for its
checks). On a terminal the line is redrawn in place every second; elsewhere (CI, a pipe) it is a
plain line every 4 seconds, so a long run is never silent and a log stays short. ``--quiet`` turns
it off. Engine event shapes: ``pulumi.automation.events``.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from typing import TextIO

from pulumi.automation import events

from openclaw_fleet.cli.changes import ENGINE_TYPES, QUIET_OPS


class Progress:
    """Counts engine events per stack and prints a line at intervals while the ``with`` lasts.

    ``verb``: what the run does (``up``, ``preview``…); ``stacks``: how many stacks it runs;
    ``out``: where lines go (stderr); ``interval_s``: None for the default (1 s on a terminal,
    4 s elsewhere); ``quiet``: print nothing. ``on_event(stack, event)`` is thread-safe."""

    def __init__(
        self, verb: str, stacks: int, out: TextIO = sys.stderr, interval_s: float | None = None, quiet: bool = False
    ):
        self.verb, self.stacks, self.out, self.quiet = verb, stacks, out, quiet
        self.live = hasattr(out, "isatty") and out.isatty()
        self.interval_s = interval_s or (1.0 if self.live else 4.0)
        self._lock = threading.Lock()
        self._done: dict[str, Counter] = {}
        self._running: dict[str, int] = {}
        self._failed: Counter = Counter()
        self._steps_of_users: dict[str, str] = {}  # URN of a running step → its user's gateway URN
        self._in_flight: dict[str, tuple[float, str]] = {}  # URN of a running step → (start, "Kind name op")
        self._finished: set[str] = set()
        self._planned: Counter = Counter()  # steps previewed, per stack
        self._previewed: set[str] = set()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread: threading.Thread | None = None

    def on_event(self, stack: str, event: events.EngineEvent, planning: bool = False) -> None:
        """Count one engine event of ``stack``; a preview's (``planning``) count as planned steps
        of the stack, not as resources done."""
        meta = next(
            (e.metadata for e in (event.resource_pre_event, event.res_outputs_event, event.res_op_failed_event) if e),
            None,
        )
        if meta is not None and meta.type.startswith(ENGINE_TYPES):
            return  # not counted by the engine's summary either
        with self._lock:
            if planning:
                if event.res_outputs_event:
                    self._planned[stack] += 1
                elif event.summary_event:
                    self._previewed.add(stack)
                return
            done = self._done.setdefault(stack, Counter())
            if event.resource_pre_event:
                meta = event.resource_pre_event.metadata
                op = getattr(meta.op, "value", meta.op)
                if op not in QUIET_OPS:
                    self._running[stack] = self._running.get(stack, 0) + 1
                    what = f"{meta.type.rsplit(':', 1)[-1]} {meta.urn.rsplit('::', 1)[-1]} ({op}"
                    self._in_flight[meta.urn] = (time.monotonic(), what)
                    state = meta.new or meta.old
                    owner = meta.urn if "Gateway::" in meta.urn else (state.parent if state else "") or ""
                    if "Gateway::" in owner:  # a step of a user's gateway: whose, until it ends
                        self._steps_of_users[meta.urn] = owner
            elif event.res_outputs_event:
                meta = event.res_outputs_event.metadata
                op = getattr(meta.op, "value", meta.op)
                if op not in QUIET_OPS:
                    done[op] += 1
                    self._running[stack] = max(0, self._running.get(stack, 0) - 1)
                    self._steps_of_users.pop(meta.urn, None)
                    self._in_flight.pop(meta.urn, None)
            elif event.res_op_failed_event:
                self._failed[stack] += 1
                self._steps_of_users.pop(event.res_op_failed_event.metadata.urn, None)
                self._in_flight.pop(event.res_op_failed_event.metadata.urn, None)
                self._running[stack] = max(0, self._running.get(stack, 0) - 1)
            elif event.summary_event:
                self._finished.add(stack)

    def line(self) -> str:
        """The progress line now."""
        with self._lock:
            elapsed = time.monotonic() - self._started
            total = sum(self._done.values(), Counter())
            ops = ", ".join(f"{op} {count}" for op, count in sorted(total.items())) or "none yet"
            running = sum(self._running.values())
            parts = [f"{self.verb}: {elapsed:.0f} s"]
            if self._planned or self.verb == "preview":
                steps = sum(self._planned.values())
                parts.append(f"previewed {len(self._previewed)}/{self.stacks} stacks ({steps} steps)")
            if self.verb != "preview":
                parts += [
                    f"resources done: {ops}",
                    f"{running} in progress",
                    f"{sum(self._failed.values())} failed",
                    f"{len(set(self._steps_of_users.values()))} users' gateways changing",
                    f"stacks {len(self._finished)}/{self.stacks} finished",
                ]
            busy = [
                f"{stack} {sum(self._done[stack].values())} done, {self._running.get(stack, 0)} running"
                for stack in sorted(self._done)
                if stack not in self._finished and (self._running.get(stack) or self._done[stack])
            ]
            now = time.monotonic()
            longest = sorted(self._in_flight.values())[:3]  # the oldest first: the long steps
            slow = [f"{what}, {now - started:.0f} s)" for started, what in longest if now - started >= self.interval_s]
        line = "; ".join(parts) + (f" ({'; '.join(busy[:4])})" if busy else "")
        return line + (f"; longest: {', '.join(slow)}" if slow else "")

    def _print_every_interval(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._print(self.line())

    def _print(self, text: str) -> None:
        if self.live:
            self.out.write("\r\x1b[K" + text)
        else:
            self.out.write(text + "\n")
        self.out.flush()

    def __enter__(self) -> Progress:
        if not self.quiet:
            self._thread = threading.Thread(target=self._print_every_interval, name="fleet-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            if self.live:
                self.out.write("\r\x1b[K")
                self.out.flush()
