"""Which shard stacks ``fleet up`` sends to their ``up`` without a preview."""

from openclaw_fleet.cli.fleet import StackRun
from openclaw_fleet.roster import User
from tests.unit.users import user


def run(resource_count: int | None, users: list[User]) -> StackRun:
    return StackRun("dev", stack=None, users=users, digest="d", previous={}, resource_count=resource_count)


def test_only_a_stack_known_to_hold_nothing_skips_its_preview():
    assert run(0, [user()]).only_creates
    assert not run(9, [user()]).only_creates  # may delete or replace: previewed, guarded
    assert not run(None, [user()]).only_creates  # the backend did not say: previewed
    assert not run(0, []).only_creates  # nothing to do at all
