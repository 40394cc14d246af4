"""A Fly Machines API emulator for tests (see server.py)."""

from tests.fly_emulator.server import Emulator, Faults, Timing

__all__ = ["Emulator", "Faults", "Timing"]
