"""``python -m openclaw_fleet.cli COMMAND``: the ``fleet`` subcommands written in Python (``main.py``)."""

import sys

from openclaw_fleet.cli.main import main

sys.exit(main())
