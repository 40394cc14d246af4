"""Shards: a large roster split over a fixed number of stacks by a stable hash of the user id.

A stack's checkpoint is rewritten whole after every step on Pulumi's file backend (and sent whole
to S3 or Pulumi Cloud), so one stack per thousand users pays for its size on every change. With
``openclaw-fleet:shards: N`` (default 1) the stack ``<base>`` holds nothing itself and its users
live in ``<base>-shard-<k>-of-<N>``, k = 1..N. A user's shard depends on their id alone (SHA-256,
not Python's per-process ``hash``), so adding or removing users never moves anyone else. With one
shard the stack is ``<base>`` itself, exactly as without shards.
"""

from __future__ import annotations

import hashlib
import re

_SHARD_STACK = re.compile(r"^(?P<base>.+)-shard-(?P<index>[1-9][0-9]*)-of-(?P<count>[1-9][0-9]*)$")


def shard_of(user_id: str, count: int) -> int:
    """The shard (1..count) a user belongs to; the same on every machine and run."""
    digest = hashlib.sha256(user_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def shard_stacks(base: str, count: int) -> list[str]:
    """The stack names of a base stack split in ``count`` shards (``[base]`` for one)."""
    if count == 1:
        return [base]
    return [f"{base}-shard-{index}-of-{count}" for index in range(1, count + 1)]


def parse_shard_stack(stack: str) -> tuple[str, int, int]:
    """``(base, index, count)`` of a stack name; ``(stack, 1, 1)`` for a stack that is not a shard."""
    match = _SHARD_STACK.match(stack)
    if not match:
        return stack, 1, 1
    return match["base"], int(match["index"]), int(match["count"])
