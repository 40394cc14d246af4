"""How the fleet scales on the Fly target, against the baselines it must beat, in one run.

    .venv/bin/python bench/fleet_scale.py --users 10,100,1000 [--parallel 32] [--shard-size 50]
        [--stacks-at-once CORES] [--latency 0.05] [--start 4]

(after ``bin/setup``; the Pulumi CLI must be on PATH: ``eval "$(bin/fleet env)"``.)

Everything runs against the project's Fly emulator in this process, with ``--latency`` seconds
added to every API call and machines taking ``--start`` seconds from created to started. For each
roster size N it measures:

- (a) the imperative flow hosted-OpenClaw operators run today, one user after another over httpx:
  create app → shared IPv4 → IPv6 → secrets → volume → machine → wait until started;
- (b) the fleet: ``fleet up`` (the ``fleet`` command: preview, guard, up) of an N-user roster from
  empty state, split in ⌈N / shard size⌉ shards, ``--stacks-at-once`` of them at once, each with
  ``--parallel`` operations at once;
- (c) the critical-path bound: one user's chain alone (the first user of (a)) × ⌈N / concurrency⌉,
  where concurrency is ``--parallel`` × the shards run at once;
- the CPU-seconds (b) used in the fleet's processes (the ``fleet`` command, the Pulumi CLIs, the
  programs, the provider processes: this process's ended descendants, ``getrusage``), and (d) that
  divided by the cores this process may use: how fast (b) could be if it were only CPU-bound. The
  emulator's own CPU, in this process, is not counted. (b) over the larger of (c) and (d) is how far
  the fleet is from what both the API and this machine's cores allow;
- the API calls in flight during (b): the mean (time-weighted) and the most at once;
- a no-op ``fleet preview`` and ``fleet up`` after (b), and the writing API calls of that ``up``;
- changing one user's model: its ``fleet preview`` and ``fleet up``, and how many users they touch;
- the no-op preview and the model change's preview with ``--changed`` (shards whose program,
  settings and users are those of their last successful update are not previewed), and then a
  second user's model change applied with ``fleet up --changed``;
- the checkpoints (every shard's state file) in bytes per user: on disk (gzipped, as `fleet` writes them)
  and as JSON.

Nothing is destroyed afterwards: the emulator and the stacks' temp directory go with the run.

Above ``--imperative-max`` users, (a) is estimated as N × the chain of one user instead of run.
It prints one table, a column per N, with the target each figure must meet; ``--markdown
docs/scale-figures.md`` also writes it as the page docs/scale.md shows.
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import platform
import re
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from openclaw_fleet.cli.fleet import default_stacks_at_once
from openclaw_fleet.shards import shard_of
from tests.integration.fleet import Fleet
from tools.fly_emulator import Emulator, Faults, Timing

WRITING = {"POST", "PUT", "PATCH", "DELETE"}
MACHINE_CONFIG = {
    "image": "registry.fly.io/openclaw-gateway@sha256:" + "0" * 64,
    "guest": {"cpu_kind": "shared", "cpus": 1, "memory_mb": 2048},
    "services": [{"protocol": "tcp", "internal_port": 18789, "ports": [{"port": 443, "handlers": ["tls", "http"]}]}],
}


def imperative_user(api: httpx.Client, app: str) -> None:
    """One user the way an API route or a script provisions it: each call after the last."""

    def call(method: str, path: str, **kwargs) -> dict:
        while True:
            answer = api.request(method, path, **kwargs)
            if answer.status_code == 404 and path.endswith("/volumes"):  # a brand-new app is not visible yet
                time.sleep(0.3)
                continue
            answer.raise_for_status()
            return answer.json() if answer.content else {}

    call("POST", "/apps", json={"name": app, "org_slug": "personal"})
    call("POST", f"/apps/{app}/ip_assignments", json={"type": "shared_v4"})
    call("POST", f"/apps/{app}/ip_assignments", json={"type": "v6"})
    call("POST", f"/apps/{app}/secrets", json={"values": {"OPENCLAW_GATEWAY_TOKEN": secrets.token_hex(32)}})
    volume = call("POST", f"/apps/{app}/volumes", json={"name": "openclaw_data", "region": "sjc", "size_gb": 1})
    config = {**MACHINE_CONFIG, "mounts": [{"volume": volume["id"], "path": "/home/node/.openclaw"}]}
    machine = call("POST", f"/apps/{app}/machines", json={"name": app, "region": "sjc", "config": config})
    call("GET", f"/apps/{app}/machines/{machine['id']}/wait", params={"state": "started", "timeout": 60}, timeout=90)


def children_cpu_s() -> float:
    """CPU-seconds (user + system) of this process's descendants that have ended and been waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(action) -> tuple[float, object]:
    started = time.monotonic()
    result = action()
    return time.monotonic() - started, result


def measure(users: int, args: argparse.Namespace, workdir: Path) -> dict[str, str]:
    emulator = Emulator(tokens=("bench-" + secrets.token_hex(16),), timing=Timing(start_s=args.start)).start()
    emulator.set_faults(Faults(latency_s=args.latency))
    token = next(iter(emulator.tokens))
    row: dict[str, str] = {}
    try:
        with httpx.Client(base_url=emulator.url + "/v1", headers={"Authorization": f"Bearer {token}"}) as api:
            chain, _ = timed(lambda: imperative_user(api, "imp-u-000000"))
            if users <= args.imperative_max:
                rest, _ = timed(lambda: [imperative_user(api, f"imp-u-{i:06d}") for i in range(1, users)])
                imperative = f"{chain + rest:.1f}"
            else:
                imperative = f"{chain * users:.1f} (est.)"
        emulator.state.apps.clear()

        shards = math.ceil(users / args.shard_size)
        concurrency = args.parallel * min(shards, args.stacks_at_once)
        bound = chain * math.ceil(users / concurrency)
        fleet = Fleet.for_fly(workdir / f"n{users}", emulator, shards=str(shards))
        roster = [{"id": f"user_2bench{i:06d}", "name": f"User {i}"} for i in range(users)]
        per_shard = Counter(shard_of(user["id"], shards) for user in roster).values()
        fleet.write_roster({"users": roster})
        options = ("--parallel", str(args.parallel), "--stacks-at-once", str(args.stacks_at_once))

        def run(command: str, *flags: str) -> str:
            result = fleet.fleet(command, *flags, *options, timeout=7200)
            if result.returncode != 0:
                raise SystemExit(f"fleet {command} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
            return result.stdout

        mark, began, cpu_before = len(emulator.calls), time.monotonic(), children_cpu_s()
        up_s, _ = timed(lambda: run("up"))
        up_cpu_s, cores = children_cpu_s() - cpu_before, len(os.sched_getaffinity(0))
        mean, most = emulator.in_flight(mark, began, time.monotonic())

        noop_preview_s, _ = timed(lambda: run("preview"))
        mark = len(emulator.calls)
        noop_up_s, _ = timed(lambda: run("up"))
        noop_writes = sum(1 for call in emulator.calls[mark:] if call["method"] in WRITING)
        noop_changed_s, _ = timed(lambda: run("preview", "--changed"))

        roster[0]["model"] = "openai/gpt-5.1"
        fleet.write_roster({"users": roster})
        change_changed_s, _ = timed(lambda: run("preview", "--changed"))
        change_preview_s, plan = timed(lambda: run("preview"))
        change_up_s, _ = timed(lambda: run("up"))
        changed = re.search(r"(\d+) users change", plan)[1]
        roster[1]["model"] = "openai/gpt-5.1"
        fleet.write_roster({"users": roster})
        change_changed_up_s, _ = timed(lambda: run("up", "--changed"))
        state_dir = fleet.state_file().parent
        checkpoints = [path for path in state_dir.glob(f"{fleet.stack}*.json*") if path.suffix in (".json", ".gz")]
        on_disk = sum(path.stat().st_size for path in checkpoints)
        as_json = sum(
            len(gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes())
            for path in checkpoints
        )

        imperative_s = float(imperative.split()[0])
        row = {
            "shards × users each (fewest–most); concurrency": (
                f"{shards} × {min(per_shard)}–{max(per_shard)}; {concurrency}"
            ),
            "(a) imperative, one user after another (s)": imperative,
            "(b) fleet cold up (s)": f"{up_s:.1f}",
            "(c) critical-path bound (s)": f"{bound:.1f}",
            "CPU-seconds used by (b)'s processes": f"{up_cpu_s:.1f}",
            f"(d) CPU bound: those CPU-seconds / {cores} cores (s)": f"{up_cpu_s / cores:.1f}",
            "a / b (target ≥ 10 at 100 users)": f"{imperative_s / up_s:.1f}×",
            "b / c (target ≤ 1.5 at 100 users)": f"{up_s / bound:.2f}×",
            "b / the larger of c and d": f"{up_s / max(bound, up_cpu_s / cores):.2f}×",
            "API calls in flight during (b): mean / most": f"{mean:.1f} / {most}",
            "no-op preview (s) (target ≤ 60 at 1,000 users)": f"{noop_preview_s:.1f}",
            "no-op up (s) / its writing API calls (target 0)": f"{noop_up_s:.1f} / {noop_writes}",
            "with --changed: no-op preview / one model change preview / another's up (s)": (
                f"{noop_changed_s:.1f} / {change_changed_s:.1f} / {change_changed_up_s:.1f}"
            ),
            "one model change: users changed": changed,
            "one model change: preview / up (s) (target ≤ 1.2 × no-op preview)": (
                f"{change_preview_s:.1f} / {change_up_s:.1f}"
            ),
            "checkpoint bytes per user on disk (target ≤ 10,240)": f"{on_disk // users:,}",
            "checkpoint JSON bytes per user, uncompressed": f"{as_json // users:,}",
        }
    finally:
        emulator.stop()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", default="10,100", help="roster sizes, comma-separated")
    parser.add_argument("--parallel", type=int, default=32, help="operations at once per stack (pulumi --parallel)")
    parser.add_argument(
        "--shard-size", type=int, default=50, help="users per shard: N users make ⌈N / this⌉ shards (README: near 50)"
    )
    parser.add_argument(
        "--stacks-at-once", type=int, default=default_stacks_at_once(), help="shards run at once (default: fleet's)"
    )
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every API call")
    parser.add_argument("--start", type=float, default=4.0, help="seconds from machine created to started")
    parser.add_argument("--imperative-max", type=int, default=100, help="largest N for which (a) is run, not estimated")
    parser.add_argument("--markdown", type=Path, help="also write the table here as Markdown")
    args = parser.parse_args()
    sizes = [int(n) for n in args.users.split(",")]
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as workdir:
        columns = {n: measure(n, args, Path(workdir)) for n in sizes}
    metrics = list(next(iter(columns.values())))
    width = max(len(metric) for metric in metrics)
    setting = (
        f"{args.latency:g} s per API call, machine start {args.start:g} s, --parallel {args.parallel}, "
        f"{args.stacks_at_once} stacks at once"
    )
    print(f"\nFly emulator, {setting}")
    print(f"{'':{width}}  " + "  ".join(f"{f'N = {n:,}':>18}" for n in sizes))
    for metric in metrics:
        print(f"{metric:{width}}  " + "  ".join(f"{columns[n][metric]:>18}" for n in sizes))
    if args.markdown:
        args.markdown.write_text(markdown_table(columns, setting, " ".join(sys.argv[1:])))


def markdown_table(columns: dict[int, dict[str, str]], setting: str, arguments: str) -> str:
    """The bench's table as a Markdown page: the command, when, on which commit and machine."""
    sizes = list(columns)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        "# Scale figures",
        "",
        "Written by the bench, not by hand: `.venv/bin/python bench/fleet_scale.py "
        f"{arguments.replace('|', '/')}` on {time.strftime('%Y-%m-%d', time.gmtime())}, commit `{commit or '?'}`, "
        f"{cores} cores ({platform.machine()}). Fly emulator, {setting}. What each row means: "
        "[bench/fleet_scale.py](../bench/fleet_scale.py); how to read them: [scale.md](scale.md).",
        "",
        "| | " + " | ".join(f"N = {n:,}" for n in sizes) + " |",
        "| --- |" + " --- |" * len(sizes),
    ]
    for metric in columns[sizes[0]]:
        cells = " | ".join(columns[n][metric].replace("|", "/") for n in sizes)
        lines.append(f"| {metric.replace('|', '/')} | {cells} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
