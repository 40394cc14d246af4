"""A fleet past the size where the SDK's provider serialization used to overflow the stack (about
the 496th dynamic resource: 53 users of 9 then, about 70 of the 7 a user has now), and a converged
fleet that a second ``up`` leaves alone."""

import secrets

import pytest

from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Timing

pytestmark = pytest.mark.integration

USERS = 80
WRITING = {"POST", "PUT", "PATCH", "DELETE"}


def test_eighty_users_preview_up_and_a_second_up_changes_nothing(tmp_path):
    emulator = Emulator(tokens=("fly-scale-" + secrets.token_hex(16),), timing=Timing(start_s=0.3)).start()
    fleet = Fleet.for_fly(tmp_path, emulator)
    try:
        fleet.write_roster({"users": [{"id": f"user_2scale{i:06d}", "name": f"User {i}"} for i in range(USERS)]})
        # a user: the gateway component and 7 resources; then the stack, the image component, the image
        assert len(fleet.preview_changes()) == USERS * 8 + 3
        fleet.up()
        assert len(emulator.state.apps) == USERS

        assert fleet.preview_changes() == []
        mark = len(emulator.calls)
        fleet.up()
        assert [call for call in emulator.calls[mark:] if call["method"] in WRITING] == []
    finally:
        fleet.run("destroy", "--yes", check=False)
        fleet.run("stack", "rm", "--yes", "--force", check=False)
        emulator.stop()
