"""A 50-user ``fleet up`` through an API that answers 30 % of calls with 429 (``Retry-After: 1``)
and 10 % with a 5xx completes on its first run, and the next preview is all ``same``."""

import pytest

from openclaw_fleet.roster import instance_name
from tests.integration.fleet import Fleet
from tools.fly_emulator import Faults

pytestmark = pytest.mark.integration

USERS = [f"user_2chaos{index:07d}" for index in range(50)]


def test_fifty_users_through_429s_and_5xx_converge_on_the_first_run(tmp_path_factory, emulator):
    fleet = Fleet.for_fly(tmp_path_factory.mktemp("chaos"), emulator)
    fleet.write_roster({"users": [{"id": uid, "name": uid[-4:], "region": "iad"} for uid in USERS]})
    emulator.set_faults(Faults(rate_429=0.3, rate_5xx=0.1, retry_after_s=1, seed=7))
    mark = len(emulator.calls)
    try:
        result = fleet.fleet("up", timeout=1800)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        statuses = [call["status"] for call in emulator.calls[mark:]]
        assert statuses.count(429) > 100 and sum(status >= 500 for status in statuses) > 30
        for uid in USERS:
            machines = list(emulator.state.apps[instance_name(fleet.prefix, uid)]["machines"].values())
            assert [machine.state for machine in machines] == ["started"], uid
        assert "0 users change, 50 unchanged" in fleet.fleet("preview").stdout
    finally:
        emulator.set_faults(Faults())
        fleet.fleet("destroy", "--yes")
