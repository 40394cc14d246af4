"""The package name of openclaw-fleet's providers before they moved to ``openclaw_fleet/``.

Resources stored by that layout name ``components.fly.machine.MachineProvider`` and the like in
their pickled provider; importing this package registers those paths
(``openclaw_fleet/compat/former_paths.py``). Nothing else lives here.
"""

import openclaw_fleet.compat.former_paths  # noqa: F401 (registers the former paths)
