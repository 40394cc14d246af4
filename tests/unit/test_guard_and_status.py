"""Two pure parts of the command, alone: the fleet-wide mass-deletion guard (a function of who was
there and what the plan loses) and ``fleet status``'s words for what differs from the plan."""

from openclaw_fleet.cli.guard import few, refusal
from openclaw_fleet.cli.status import differences

EVERYONE = {f"user_{index}" for index in range(10)}


def test_a_few_users_leaving_pass_and_a_fifth_or_more_is_refused_naming_them():
    assert refusal(EVERYONE, EVERYONE - {"user_0"}, {}, set(), 0.2, 3) is None
    said = refusal(EVERYONE, EVERYONE - {"user_0", "user_1", "user_2"}, {}, set(), 0.2, 3)
    assert said.startswith("refused: this run would delete or lose the data of 3 of 10 users, more than 20%")
    assert "3 leave the roster" in said and "user_0, user_1, user_2" in said


def test_data_loss_and_unpreviewed_shards_count_once_each_with_their_reasons():
    losing = {"user_3": ["namePrefix changed"], "user_4": ["region changed"], "user_0": ["region changed"]}
    said = refusal(EVERYONE, EVERYONE - {"user_0"}, losing, {"user_5", "user_3"}, 0.2, 3)
    assert "of 4 of 10 users" in said  # user_0 leaves (not also losing); user_3 loses (not also unknown)
    assert "2 would lose their data (namePrefix changed; region changed)" in said
    assert "1 are in shards not yet previewed" in said


def test_the_minimum_holds_for_a_small_fleet():
    small = {"a", "b"}
    assert refusal(small, set(), {}, set(), 0.2, 3) is None  # both leave, fewer than the minimum
    assert refusal(small, set(), {}, set(), 0.2, 2) is not None


def test_few_names_the_first_and_counts_the_rest():
    assert few(["a", "b", "c"], 2) == "a, b and 1 more" and few(["a"], 2) == "a"


PLANNED = {"instance_id": "m1", "state": "running", "region": "ams", "image": "reg/gw@sha256:new"}


def test_status_says_each_difference_in_words():
    live = {"found": True, "state": "stopped", "region": "sjc", "image": "reg/gw@sha256:old", "checks": {}}
    assert differences("fly", PLANNED, live) == [
        "state stopped, the roster says running",
        "region sjc, the roster says ams",
        "image reg/gw@sha256:old, the stack records reg/gw@sha256:new",
    ]
    assert differences("fly", PLANNED, {"found": False}) == ["machine m1 is gone"]
    assert differences("docker", PLANNED, {"found": False}) == ["container m1 is gone"]


def test_a_running_gateway_with_a_failing_check_differs_and_a_healthy_one_does_not():
    healthy = {
        "found": True,
        "state": "started",
        "region": "ams",
        "image": PLANNED["image"],
        "checks": {"http": "passing"},
    }
    assert differences("fly", PLANNED, healthy) == []
    failing = {**healthy, "checks": {"http": "critical"}}
    assert differences("fly", PLANNED, failing) == ["check http critical"]


def test_each_difference_names_the_command_that_repairs_it():

    from openclaw_fleet.cli.status import UserStatus, as_text, repair

    def user(uid: str, live: dict, differs: list[str]) -> UserStatus:
        return UserStatus(uid, f"oc-{uid}", PLANNED, live, differs)

    stopped = user("ada", {"found": True, "state": "stopped"}, ["state stopped, the roster says running"])
    gone = user("bob", {"found": False}, ["machine m1 is gone"])
    failing = user("cy", {"found": True, "state": "started"}, ["check http critical"])
    unread = user("di", {"found": None}, ["could not be read: connection refused"])
    assert repair("fly", "prod", stopped) == repair("fly", "prod", gone) == "bin/fleet up --refresh -s prod"
    assert "`fly logs -a oc-cy`" in repair("fly", "prod", failing)
    assert "rollout --back cy -s prod" in repair("fly", "prod", failing)
    assert repair("docker", "dev", unread).startswith("the docker target could not be asked")
    assert repair("fly", "prod", user("ok", {"found": True}, [])) is None
    users = [
        UserStatus(u.user_id, u.instance, u.expected, u.live, u.differs, repair("fly", "prod", u))
        for u in (stopped, gone)
    ]
    assert as_text(users)[-1] == "repair (ada, bob): bin/fleet up --refresh -s prod"


def test_cohorts_group_users_by_the_image_they_run_now():
    from openclaw_fleet.cli.status import UserStatus, as_text, cohorts

    def user(uid: str, recorded: str, live: str | None) -> UserStatus:
        return UserStatus(
            uid, f"oc-{uid}", {**PLANNED, "image": recorded}, {"found": True, "image": live} if live else {}
        )

    users = [user("a", "img:1", "img:2"), user("b", "img:1", None), user("c", "img:2", "img:2")]
    assert cohorts(users) == {"img:2": ["a", "c"], "img:1": ["b"]}
    assert "cohort img:2: 2 users (a, c)" in as_text(users)
