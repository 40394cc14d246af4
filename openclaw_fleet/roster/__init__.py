"""The roster: its model, its loader (``file:line`` errors) and its generated schema and docs."""

from openclaw_fleet.errors import RosterError
from openclaw_fleet.roster.loader import load_roster
from openclaw_fleet.roster.model import User, guest
from openclaw_fleet.roster.naming import instance_name, short_id

__all__ = ["RosterError", "User", "guest", "instance_name", "load_roster", "short_id"]
