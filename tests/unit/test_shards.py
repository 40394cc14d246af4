"""Shard assignment: by the user id alone, the same in every process, spread evenly."""

import subprocess
import sys
from collections import Counter

from openclaw_fleet.shards import parse_shard_stack, shard_of, shard_stacks

IDS = [f"user_2{index:012d}" for index in range(4000)]


def test_adding_and_removing_users_moves_nobody_else():
    before = {uid: shard_of(uid, 8) for uid in IDS[:3000]}
    after = {uid: shard_of(uid, 8) for uid in IDS[1000:]}  # 1,000 left, 1,000 joined
    assert all(after[uid] == before[uid] for uid in IDS[1000:3000])


def test_the_same_shard_in_another_process_whatever_its_hash_seed():
    code = "from openclaw_fleet.shards import shard_of; print([shard_of(f'user_2{i:012d}', 8) for i in range(200)])"
    seen = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": seed}
        ).stdout
        for seed in ("1", "2")
    }
    assert seen == {str([shard_of(uid, 8) for uid in IDS[:200]]) + "\n"}


def test_users_spread_evenly_over_the_shards():
    counts = Counter(shard_of(uid, 8) for uid in IDS)
    assert sorted(counts) == list(range(1, 9))
    assert max(counts.values()) < 1.15 * len(IDS) / 8


def test_stack_names_round_trip_and_one_shard_is_the_base_stack():
    assert shard_stacks("prod", 1) == ["prod"]
    names = shard_stacks("prod", 4)
    assert names[0] == "prod-shard-1-of-4"
    assert [parse_shard_stack(name) for name in names] == [("prod", k, 4) for k in range(1, 5)]
    assert parse_shard_stack("prod") == ("prod", 1, 1)
