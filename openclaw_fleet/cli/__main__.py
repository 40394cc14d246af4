"""``python -m openclaw_fleet.cli COMMAND``: the ``fleet`` subcommands written in Python.

adoptable --stack NAME   what ``adopt: true`` would take over (stack config on stdin)
"""

import argparse

from openclaw_fleet.cli import adoptable

parser = argparse.ArgumentParser(prog="fleet", description="openclaw-fleet commands")
commands = parser.add_subparsers(dest="command", required=True)
adoptable_parser = commands.add_parser("adoptable", help="list what adopt: true would take over, per roster user")
adoptable_parser.add_argument("--stack", required=True, help="the stack whose config comes on stdin")
args = parser.parse_args()
if args.command == "adoptable":
    adoptable.main(args.stack)
