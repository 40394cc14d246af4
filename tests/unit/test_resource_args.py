"""Typed resource inputs: a typo or a wrong type fails where the program writes it, and in ``check``."""

import pulumi
import pytest
from pulumi.output import Unknown
from pydantic import ValidationError

from openclaw_fleet.providers.fly.app import AppArgs
from openclaw_fleet.providers.fly.volume import VolumeArgs, VolumeProvider
from openclaw_fleet.providers.gateway_command import GatewayCommandArgs


def test_a_misspelt_input_fails_at_construction_naming_both_fields():
    with pytest.raises(ValidationError) as caught:
        AppArgs(name="openclaw-u-1", org_slg="personal")
    assert {problem["loc"] for problem in caught.value.errors()} == {("org_slug",), ("org_slg",)}


def test_outputs_pass_through_and_plain_values_are_type_checked():
    app = pulumi.Output.from_input("openclaw-u-1")
    assert VolumeArgs(app=app, name="openclaw_data", region="sjc", size_gb=1).app is app
    with pytest.raises(ValidationError):
        VolumeArgs(app="openclaw-u-1", name="openclaw_data", region="sjc", size_gb="big")


def test_check_names_the_bad_property_and_lets_preview_unknowns_through():
    news = {"app": Unknown(), "name": "openclaw_data", "region": "sjc", "size_gb": "big", "__provider": "x"}
    result = VolumeProvider().check({}, news)
    assert [failure.property for failure in result.failures] == ["size_gb"]
    result = VolumeProvider().check({}, {**news, "size_gb": 3})
    assert result.failures == []


def test_engine_numbers_arrive_as_floats_and_are_read_as_ints():
    props = {"app": "a", "name": "openclaw_data", "region": "sjc", "size_gb": 2.0, "status": "x", "__provider": "p"}
    assert VolumeArgs.parse(props).size_gb == 2


def test_inputs_left_out_stay_out_where_their_absence_matters():
    docker = GatewayCommandArgs(target="docker", container="c1", command=["x"], user_id="u", state="running")
    assert "app" not in docker.props() and "machine_id" not in docker.props()
    assert set(docker.props()) == {"target", "container", "command", "user_id", "state"}
