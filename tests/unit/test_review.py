"""The reviewer's plan: groups, words for what changes, bold losses, costs, a long list cut."""

import json

from openclaw_fleet.cli.changes import ChangesByUser
from openclaw_fleet.cli.comment import MARKER, as_json, markdown
from openclaw_fleet.cli.review import build_review
from openclaw_fleet.cost import FlyPrices
from openclaw_fleet.secret_sources import SecretSource
from tests.unit.users import user

PRICES = FlyPrices.load()


def previous_of(users) -> dict:
    return {u.id: {"name": f"oc-{u.id}", **u.recorded("fly", 1)} for u in users}


def test_groups_words_and_costs():
    before = [user(id=f"user_{index}") for index in range(5)]
    now = [
        before[0],
        user(id="user_1", model="anthropic/claude-opus-4-1", provider_keys={"OPENAI_API_KEY": "team-openai"}),
        user(id="user_2", region="ams"),
        user(id="user_3", state="stopped"),
        user(id="user_9"),
    ]  # user_4 leaves; after: four running (0, 1, 2 and the new 9), user_3 stopped
    plan = ChangesByUser({})
    plan.users["user_1"].changes["update"].append("Machine (config)")
    plan.users["user_2"].changes["replace"].append("Volume (region)")
    plan.users["user_2"].data_loss.append("Fly volume replaced (region)")
    plan.users["user_3"].changes["update"].append("Machine (state)")
    plan.users["user_9"].changes["create"].append("App")
    sources = {"team-openai": SecretSource("config", "teamOpenai")}
    review = build_review("prod", 2, previous_of(before), now, "fly", 1, plan, PRICES, sources)

    assert review.counts() == {"added": 1, "changed": 1, "replaced": 1, "started": 0, "stopped": 1, "removed": 1}
    assert review.unchanged == 1
    text = markdown(review)
    assert text.startswith(MARKER)
    line = {change.user_id: change for change in review.changes}
    assert line["user_1"].fields == [
        "model openai/gpt-5.1 → anthropic/claude-opus-4-1",
        "provider key OPENAI_API_KEY added from team-openai (config teamOpenai)",
    ]
    assert "**Volume (region) replaced**" in text and "**loses data: Fly volume replaced (region)**" in text
    running = PRICES.monthly("shared-cpu-1x", 2048, True, 1)
    assert (line["user_3"].cost_before, line["user_3"].cost_after) == (running, 0.15)
    assert (line["user_4"].cost_before, line["user_4"].cost_after) == (running, None)
    assert review.cost_before == round(5 * running, 2) and review.cost_after == round(4 * running + 0.15, 2)
    assert json.loads(as_json(review))["counts"]["removed"] == 1


def test_a_long_group_is_cut_and_docker_has_no_price():
    before = [user(id=f"user_{index}") for index in range(150)]
    now = [user(id=u.id, model="anthropic/claude-opus-4-1") for u in before]
    plan = ChangesByUser({})
    for u in before:
        plan.users[u.id].changes["update"].append("Container (files)")
    previous = {u.id: {"name": u.id, **u.recorded("docker", 1)} for u in before}
    review = build_review("dev", 1, previous, now, "docker", 1, plan, PRICES)
    text = markdown(review, limit=100)
    assert "#### Changed (150)" in text and "… and 50 more" in text
    assert "$" not in text and review.cost_before is None


def test_a_user_is_added_or_removed_only_with_their_gateway():
    plan = ChangesByUser({})
    plan.users["user_new"].changes["create"] += ["FlyGateway", "App", "Machine"]
    plan.users["user_gone"].changes["delete"] += ["Machine", "App", "FlyGateway"]
    plan.users["user_left"].changes["delete"] += ["Container", "DockerGateway (name)"]  # with the fields it names
    plan.users["user_kept"].changes["delete"] += ["IPAssignment", "IPAssignment"]  # a kind no longer declared
    plan.users["user_more"].changes["create"].append("GatewayCommand")
    summaries = {user_id: report.summary() for user_id, report in plan.users.items()}
    assert summaries == {
        "user_new": "added",
        "user_gone": "removed",
        "user_left": "removed",
        "user_kept": "delete IPAssignment",
        "user_more": "create GatewayCommand",
    }


def step_event(op: str, urn: str, parent: str | None):
    from types import SimpleNamespace

    state = SimpleNamespace(parent=parent, retain_on_delete=False)
    meta = SimpleNamespace(
        op=op, urn=urn, type=urn.split("::")[2].split("$")[-1], new=state, old=None, keys=[], diffs=[]
    )
    return SimpleNamespace(resource_pre_event=SimpleNamespace(metadata=meta))


def test_a_gateway_components_own_step_is_its_users_and_the_image_is_outside():
    """The engine reports a component with the stack as its parent: it is still its user's."""
    stack = "urn:pulumi:prod::openclaw-fleet::pulumi:pulumi:Stack::openclaw-fleet-prod"
    gateway = "urn:pulumi:prod::openclaw-fleet::openclaw:fleet:FlyGateway::oc-u-abc"
    app = "urn:pulumi:prod::openclaw-fleet::openclaw:fleet:FlyGateway$pulumi-python:dynamic/fly:App::oc-u-abc"
    image = "urn:pulumi:prod::openclaw-fleet::openclaw:fleet:GatewayImage::gateway"
    plan = ChangesByUser({"oc-u-abc": "user_abc"})
    for event in (step_event("create", gateway, stack), step_event("create", app, gateway)):
        plan.on_event(event)
    plan.on_event(step_event("update", image, stack))
    assert plan.users["user_abc"].summary() == "added"
    assert dict(plan.others) == {"GatewayImage gateway": ["update"]}


def test_a_security_field_that_changes_no_resource_is_still_shown():
    """A key switched to another source with the same value changes no secret, but a reviewer must
    see it; a row recorded before such fields were is not compared (it would show every user)."""
    before = user(id="user_1", provider_keys={"OPENAI_API_KEY": "team-openai"})
    after = user(id="user_1", provider_keys={"OPENAI_API_KEY": "other-openai"}, whatsapp_owner="+15550001111")
    review = build_review("prod", 1, previous_of([before]), [after], "fly", 1, ChangesByUser({}), PRICES)
    (change,) = review.changes
    assert change.group == "changed"
    assert change.security == [
        "provider key OPENAI_API_KEY source team-openai → other-openai",
        "whatsappOwner – → +15550001111",
    ]
    old_row = {**previous_of([before])["user_1"], "provider_keys": ["OPENAI_API_KEY"]}
    review = build_review("prod", 1, {"user_1": old_row}, [after], "fly", 1, ChangesByUser({}), PRICES)
    assert review.changes == [] and review.unchanged == 1
