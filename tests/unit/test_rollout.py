"""Which image a user runs between rollouts, and how users are cut into waves."""

import argparse

import pulumi
import pytest

from openclaw_fleet.cli.options import wave_sizes
from openclaw_fleet.cli.rollout import plan_waves, waves_of
from openclaw_fleet.outputs import ImageRecord
from openclaw_fleet.user_images import image_for, record

RECORDED = {"user_old": ImageRecord(image="reg/gw@sha256:old", previous="reg/gw@sha256:older")}


def test_a_recorded_user_keeps_their_image_until_released():
    built = "reg/gw@sha256:new"
    assert image_for("user_old", built, RECORDED, {}) == "reg/gw@sha256:old"
    assert image_for("user_old", built, RECORDED, {"user_other": "built"}) == "reg/gw@sha256:old"
    assert image_for("user_old", built, RECORDED, {"user_old": "built"}) == built
    assert image_for("user_old", built, RECORDED, {"user_old": "previous"}) == "reg/gw@sha256:older"
    assert image_for("user_new", built, RECORDED, {}) == built  # new users start on the built image


@pulumi.runtime.test
def test_the_record_remembers_the_image_before_a_move():
    def check(rows):
        moved, stayed = rows
        assert moved == {"image": "reg/gw@sha256:new", "previous": "reg/gw@sha256:old"}
        assert stayed == {"image": "reg/gw@sha256:old", "previous": "reg/gw@sha256:older"}

    return pulumi.Output.all(
        record("user_old", "reg/gw@sha256:new", RECORDED), record("user_old", "reg/gw@sha256:old", RECORDED)
    ).apply(check)


def test_waves_start_with_the_canary_and_repeat_the_last_size():
    users = [f"u{index}" for index in range(13)]
    assert [len(wave) for wave in waves_of(users, ("1", "5"))] == [1, 5, 5, 2]
    assert [user for wave in waves_of(users, wave_sizes("1,2,4")) for user in wave] == users
    for bad in ("1,0", "one", "", "0%", "101%", "5%%"):
        with pytest.raises(argparse.ArgumentTypeError, match="counts ≥ 1 or shares from 1% to 100%"):
            wave_sizes(bad)


def test_shares_are_of_the_users_to_move_rounded_up_and_a_share_never_makes_an_empty_wave():
    users = [f"u{index}" for index in range(40)]
    assert [len(wave) for wave in waves_of(users, wave_sizes("1,10%,50%,100%"))] == [1, 4, 20, 15]
    assert [len(wave) for wave in waves_of(users[:3], wave_sizes("1,50%,100%"))] == [1, 2]
    assert [len(wave) for wave in waves_of(users[:3], wave_sizes("1%"))] == [1, 1, 1]


def test_chosen_canaries_are_the_first_wave_and_the_other_sizes_cut_the_rest():
    users = [f"u{index}" for index in range(6)]
    assert plan_waves(users, wave_sizes("1,50%,100%"), ("u4", "u9")) == [["u4"], ["u0", "u1", "u2"], ["u3", "u5"]]
    assert plan_waves(users, wave_sizes("2,100%"), ()) == [["u0", "u1"], ["u2", "u3", "u4", "u5"]]
