"""What openclaw-fleet keeps only so that stacks written by earlier versions keep working.

Nothing here is used by a stack this version made. Each piece, and when it can go:

- ``former_paths.py``: module paths of providers that moved. The SDK unpickles a dynamic
  provider by its module path from a resource's stored ``__provider`` (``pulumi/dynamic/dynamic.py``:
  ``serialize_provider``). Remove a path when no supported stack holds a resource stored with it
  (``components/``: made before 2026-09; ``providers/fly/machine_ready`` and ``ip_assignment``:
  made before 2026-10). A plain ``up`` rewrites a resource's stored provider only when the
  resource changes, so that means such stacks destroyed, or every resource of them updated.
- ``machine_ready.py``, ``ip_assignment.py``: providers of resources the program no longer
  declares (the machine waits itself; the app holds its addresses). The first ``up`` deletes
  those entries, changing nothing on Fly. Remove after every Fly stack made before 2026-10 has had one ``up``.
- ``machine_state.py``: ``fly:Machine`` outputs of stacks before 2026-10 (the whole ``config``, a
  digest of the engine's floats). Remove after every Fly stack made before then has had one ``up``.
- ``former_types.py``: the gateway components' former type ``openclaw:fleet:UserInstance``, as an
  alias. Remove when no supported stack was made before 2026-09 (after one ``up``, each
  component is stored under its own type).
- ``whole_outputs()``: ``OPENCLAW_FLEET_WHOLE_OUTPUTS=1`` stores outputs whole, for going back to a
  version from before outputs left out the inputs (docs/upgrading.md, "Going back"). Remove when
  no version before 2026-10 is supported.
"""

from openclaw_fleet.environment import WHOLE_OUTPUTS, flag


def whole_outputs() -> bool:
    """Whether resources' outputs are stored whole, with their inputs and provider, as the SDK's server stores them."""
    return flag(WHOLE_OUTPUTS)
