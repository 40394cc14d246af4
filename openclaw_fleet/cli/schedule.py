"""``fleet up``'s scheduler: previews and ups of many shards at once, no up before the guard allows it."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from openclaw_fleet.cli.fleet import Fleet
from openclaw_fleet.cli.plan import RunReport
from openclaw_fleet.cli.stacks import StackRun


@dataclass
class FleetUp:
    """What ``preview_then_up`` did: the fleet's plan (the previews' events), the ups' events,
    the runs that went to their ``up``, the runs whose preview failed, and the guard's refusal."""

    plan: RunReport
    report: RunReport
    updated: list[StackRun] = field(default_factory=list)
    failed_previews: list[StackRun] = field(default_factory=list)
    refusal: str | None = None


def preview_then_up(fleet: Fleet, runs: list[StackRun], everyone: list[StackRun]) -> FleetUp:
    """Preview the runs whose ``changes`` are not known yet, judge the fleet's plan with the guard
    over ``everyone``, and ``up`` (continue on error) every run with changes; at most
    ``fleet.stacks_at_once`` previews and as many ups at once.

    An ``up`` need not wait for the previews still running or queued once they cannot make the
    guard refuse: when the users it counts so far plus every user of those shards are not a mass
    deletion, no plan of theirs can be one. From then on each run with changes goes to its ``up``
    as soon as an up's slot is free, and shards whose digest differs from their last update's are
    previewed first, so a roster change applies while the rest is still being previewed. Ups have
    slots of their own (a stack's program, engine and provider take turns, leaving cores idle).
    A refusal means no ``up`` was started; after a preview fails no ``up`` starts."""
    queued = [run for run in runs if run.changes is None]
    queued.sort(key=lambda run: run.outputs.fleet_digest == run.digest)  # changed shards first
    ready = [run for run in runs if run.changes is not None and run.has_changes]
    previewing = {run.name for run in queued}  # queued or running
    result = FleetUp(fleet.report_for(runs), fleet.report_for(runs))
    with fleet.previewing(runs) as preview, ThreadPoolExecutor(max_workers=2 * fleet.stacks_at_once) as pool:
        running = {}
        while True:
            not_previewed = [run for run in runs if run.name in previewing]
            may_up = not result.failed_previews and fleet.refusal(everyone, result.plan, not_previewed) is None
            ups_running = sum(1 for run in running.values() if run.name not in previewing)
            while may_up and ready and ups_running < fleet.stacks_at_once:
                run = ready.pop(0)
                result.updated.append(run)
                running[pool.submit(fleet.run_one, run, fleet.up_one, result.report)] = run
                ups_running += 1
            while queued and len(running) - ups_running < fleet.stacks_at_once:
                run = queued.pop(0)
                running[pool.submit(fleet.run_one, run, preview, result.plan, True)] = run
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                run = running.pop(future)
                future.result()
                if run.name in previewing:
                    previewing.discard(run.name)
                    if run.error:
                        result.failed_previews.append(run)
                    elif run.has_changes:
                        ready.append(run)
    result.refusal = fleet.refusal(everyone, result.plan)
    return result
