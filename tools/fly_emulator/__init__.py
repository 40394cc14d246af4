"""A Fly Machines API emulator, for tests and for trying the Fly target without a Fly account (see server.py)."""

from tools.fly_emulator.server import Emulator, Faults, Timing

__all__ = ["Emulator", "Faults", "Timing"]
