"""Client-side pacing for the Machines API's documented rate limits.

Fly limits Machines API calls per action and per machine: 1 request per second, short bursts up
to 3, except Get Machine, 5 per second with bursts up to 10 ("Working with the Machines API",
https://fly.io/docs/machines/api/working-with-machines-api/; community.fly.io/t/20636). A fleet
of a thousand users sends thousands of calls a minute, but few to any one machine or app, so
pacing each (action, app or machine) pair keeps a rollout from running into a storm of 429s
without slowing it: only a burst on one object waits. Calls whose path names no app (creating
an app, listing them) are not paced here; a 429 there is retried after its ``Retry-After``.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

RATE_PER_S, BURST = 1.0, 3
GET_MACHINE_RATE_PER_S, GET_MACHINE_BURST = 5.0, 10
_GET_MACHINE = re.compile(r"^/apps/[^/]+/machines/[^/]+$")


@dataclass
class _Bucket:
    rate: float
    capacity: float
    tokens: float
    updated: float


class Pacer:
    """Token buckets keyed by (method, path): one per action on one app or machine.

    ``wait(method, path)`` blocks until the call may go (thread-safe); ``waited_s`` is the total
    time callers waited, for benchmarks.
    """

    def __init__(self, clock=time.monotonic, sleep=time.sleep):
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self.waited_s = 0.0

    def wait(self, method: str, path: str) -> None:
        if not path.startswith("/apps/"):
            return
        get_machine = method == "GET" and _GET_MACHINE.match(path)
        rate, burst = (GET_MACHINE_RATE_PER_S, GET_MACHINE_BURST) if get_machine else (RATE_PER_S, BURST)
        with self._lock:
            now = self._clock()
            bucket = self._buckets.setdefault((method, path), _Bucket(rate, burst, burst, now))
            bucket.tokens = min(bucket.capacity, bucket.tokens + (now - bucket.updated) * bucket.rate)
            bucket.updated = now
            bucket.tokens -= 1  # taken now; a negative balance is the wait owed
            delay = -bucket.tokens / bucket.rate if bucket.tokens < 0 else 0.0
            self.waited_s += delay
        if delay:
            self._sleep(delay)
