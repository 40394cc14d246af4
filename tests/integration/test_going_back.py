"""Between this version and the last one whose stored outputs repeated the inputs, both ways.

Coming from it: its stack previews as all ``same`` with this version, the ``up`` makes no writing
call, and the inputs stored after it hold no pickled provider (the provider server adds it).

Going back to it (README, "Going back"): a stack made by this version holds outputs without its
inputs and inputs without the pickled provider, which the older version misreads. Handing its
providers the stored outputs alone, it plans to replace every app, volume and machine, and its
preview fails: the engine asks whether each machine's commands must go too with their stored
inputs, where its provider server finds no provider. After ``OPENCLAW_FLEET_WHOLE_OUTPUTS=1 pulumi
refresh`` with this version, which stores whole outputs and the inputs with their provider, the
older one previews the stack as all ``same``, its ``up`` makes no writing call and its ``destroy``
works. The older program runs with the SDK's own provider server (its ``Pulumi.yaml`` names no
plugin), as it would on a machine with its own Pulumi.
"""

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from openclaw_fleet.roster.naming import instance_name
from tests.integration.fleet import ROOT, Fleet, PulumiFailed, program_of
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

BEFORE = "712725ca89f07d2a912b67788d80a194f7422664"  # the last commit whose outputs repeated the inputs
# and whose program sent the pickled provider
WRITING = {"POST", "PUT", "PATCH", "DELETE"}
USERS = ("user_2backada0001", "user_2backgrace02")


@pytest.fixture(scope="module")
def checkout_before(tmp_path_factory):
    """The program of BEFORE, unpacked from git, with today's ``image/``."""
    paths = ("Pulumi.yaml", "__main__.py", "openclaw_fleet", "components")
    return program_of(BEFORE, tmp_path_factory.mktemp("before"), *paths)


def test_a_stack_refreshed_with_whole_outputs_is_left_alone_by_the_version_before(tmp_path, checkout_before):
    with stack_made_by(ROOT, tmp_path) as (fleet, emulator):
        fleet.use_program(checkout_before)
        with pytest.raises(PulumiFailed) as failed:
            fleet.run("preview", "--json")
        preview = json.loads(failed.value.args[0].split("\n", 1)[1])
        replaced = {
            (step["urn"].split("::")[2].rsplit(":", 1)[-1], step["urn"].rsplit("::", 1)[-1])
            for step in preview.get("steps") or []
            if step["op"] == "replace"
        }
        for name in (instance_name(fleet.prefix, uid) for uid in USERS):
            assert {("App", name), ("Volume", name)} <= replaced, replaced
        errors = [d for d in preview["diagnostics"] if d["severity"] == "error"]
        assert errors and all("fly:Machine" in d["urn"] and "'__provider'" in d["message"] for d in errors)

        fleet.use_program(ROOT)
        fleet.env["OPENCLAW_FLEET_WHOLE_OUTPUTS"] = "1"
        try:
            fleet.run("refresh", "--yes")
        finally:
            fleet.env.pop("OPENCLAW_FLEET_WHOLE_OUTPUTS")

        resources = json.loads(fleet.state_text())["checkpoint"]["latest"]["resources"]
        custom = [r for r in resources if r["custom"] and r["type"].startswith("pulumi-python:dynamic/")]
        assert custom and all("__provider" in r["inputs"] and "__provider" in r["outputs"] for r in custom)

        fleet.use_program(checkout_before)
        previews_same_and_up_writes_nothing(fleet, emulator)


def test_a_stack_of_the_version_before_is_left_alone_by_this_one(tmp_path, checkout_before):
    with stack_made_by(checkout_before, tmp_path) as (fleet, emulator):
        assert "__provider" in fleet.state_text()
        fleet.use_program(ROOT)
        previews_same_and_up_writes_nothing(fleet, emulator)
        resources = json.loads(fleet.state_text())["checkpoint"]["latest"]["resources"]
        assert [r["urn"] for r in resources if "__provider" in (r.get("inputs") or {})] == []


@contextmanager
def stack_made_by(program: Path, workdir: Path) -> Iterator[tuple[Fleet, Emulator]]:
    """A Fly stack of USERS made by ``program`` on a new emulator; once the body is done, its
    ``destroy`` (by whichever program the body left in place) must remove every app."""
    emulator = Emulator(tokens=("fly-back-" + secrets.token_hex(16),), timing=Timing(start_s=0.3)).start()
    fleet = Fleet.for_fly(workdir, emulator, source=program)
    try:
        fleet.write_roster({"users": [{"id": uid, "name": uid[-5:], "region": "sjc"} for uid in USERS]})
        fleet.up()
        yield fleet, emulator
        fleet.run("destroy", "--yes")
        assert emulator.state.apps == {}
    finally:
        fleet.remove_stack()
        emulator.stop()


def previews_same_and_up_writes_nothing(fleet: Fleet, emulator: Emulator) -> None:
    assert fleet.preview_changes() == []
    mark = len(emulator.calls)
    fleet.up()
    assert [call for call in emulator.calls[mark:] if call["method"] in WRITING] == []
