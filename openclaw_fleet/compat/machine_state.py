"""``fly:Machine`` outputs in the shapes stacks before 2026-10 stored (``compat/__init__.py``).

Those stored the whole machine ``config`` where today's store its SHA-256 (``config_digest``),
and hashed the engine's numbers as given (``384.0``, where today's hash ``384``).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def upgraded(olds: dict[str, Any], config_digest) -> dict[str, Any]:
    """``olds`` in today's shape: with ``config_digest`` (by ``config_digest``, a function of a
    config) of the stored whole ``config`` where it has none; else unchanged."""
    if "config_digest" in olds:
        return olds
    return {**olds, "config_digest": config_digest(olds.get("config") or {})}


def engine_number_digest(config: dict[str, Any]) -> str:
    """The digest the version before 2026-10 wrote: of the config with the engine's floats as given."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
