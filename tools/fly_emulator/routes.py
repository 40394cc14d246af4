"""The emulator's router: each handler registers its method and path (``handles``); ``route`` dispatches."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tools.fly_emulator.state import ApiError, FlyState

ROUTES: list[tuple[str, re.Pattern, Callable]] = []


def handles(method: str, pattern: str):
    """Register the decorated function for ``method`` on ``/v1`` + ``pattern`` (groups: its arguments)."""

    def register(function: Callable) -> Callable:
        ROUTES.append((method, re.compile("^/v1" + pattern + "$"), function))
        return function

    return register


def route(state: FlyState, method: str, path: str, query: dict, body: Any, headers) -> tuple[int, Any]:
    """Dispatch one request; returns (status, JSON answer). Raises ApiError 404 for no route."""
    for route_method, pattern, function in ROUTES:
        match = pattern.match(path)
        if match and route_method == method:
            return function(state, *match.groups(), query=query, body=body, headers=headers)
    raise ApiError(404, f"not found: {method} {path}")
