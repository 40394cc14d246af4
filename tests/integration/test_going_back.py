"""Going back to a version from before the outputs left out the inputs (README, "Going back").

A stack made by this version holds outputs without its inputs, which an older version, handing
its providers the stored outputs alone, misreads: its preview replaces every app and volume. After
``OPENCLAW_FLEET_WHOLE_OUTPUTS=1 pulumi refresh`` with this version, the older one previews the
stack as all ``same`` and its ``up`` makes no writing call. The older program runs with the SDK's
own provider server (its ``Pulumi.yaml`` names no plugin), as it would on a machine with its own
Pulumi.
"""

import json
import secrets

import pytest

from openclaw_fleet.roster.naming import instance_name
from tests.integration.fleet import ROOT, Fleet, program_of
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

BEFORE = "712725ca89f07d2a912b67788d80a194f7422664"  # the last commit whose outputs repeated the inputs
WRITING = {"POST", "PUT", "PATCH", "DELETE"}
USERS = ("user_2backada0001", "user_2backgrace02")


@pytest.fixture(scope="module")
def checkout_before(tmp_path_factory):
    """The program of BEFORE, unpacked from git, with today's ``image/``."""
    paths = ("Pulumi.yaml", "__main__.py", "openclaw_fleet", "components")
    return program_of(BEFORE, tmp_path_factory.mktemp("before"), *paths)


def test_a_stack_refreshed_with_whole_outputs_is_left_alone_by_the_version_before(tmp_path, checkout_before):
    emulator = Emulator(tokens=("fly-back-" + secrets.token_hex(16),), timing=Timing(start_s=0.3)).start()
    fleet = Fleet.for_fly(tmp_path, emulator)
    try:
        fleet.write_roster({"users": [{"id": uid, "name": uid[-5:], "region": "sjc"} for uid in USERS]})
        fleet.up()

        fleet.use_program(checkout_before)
        steps = json.loads(fleet.run("preview", "--json")).get("steps") or []
        replaced = {
            (step["urn"].split("::")[2].rsplit(":", 1)[-1], step["urn"].rsplit("::", 1)[-1])
            for step in steps
            if step["op"] == "replace"
        }
        for name in (instance_name(fleet.prefix, uid) for uid in USERS):
            assert {("App", name), ("Volume", name)} <= replaced, replaced

        fleet.use_program(ROOT)
        fleet.env["OPENCLAW_FLEET_WHOLE_OUTPUTS"] = "1"
        try:
            fleet.run("refresh", "--yes")
        finally:
            fleet.env.pop("OPENCLAW_FLEET_WHOLE_OUTPUTS")

        fleet.use_program(checkout_before)
        assert fleet.preview_changes() == []
        mark = len(emulator.calls)
        fleet.up()
        assert [call for call in emulator.calls[mark:] if call["method"] in WRITING] == []
        fleet.run("destroy", "--yes")
        assert emulator.state.apps == {}
    finally:
        fleet.run("destroy", "--yes", check=False)
        fleet.run("stack", "rm", "--yes", "--force", check=False)
        emulator.stop()
