"""``fleet up``'s and ``fleet refresh``'s schedulers: previews, then ups or refreshes of many shards at
once, none before the guard allows it."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from openclaw_fleet.cli.fleet import Fleet
from openclaw_fleet.cli.progress import Progress
from openclaw_fleet.cli.results import Applied, Converged, Plan, StackResult
from openclaw_fleet.cli.stacks import StackRun


def preview_then_up(
    fleet: Fleet, runs: list[StackRun], everyone: list[StackRun], progress: Progress | None = None
) -> Converged:
    """Preview ``runs``, judge the fleet's plan with the guard over ``everyone``, and ``up``
    (continue on error) every run with changes; at most ``fleet.stacks_at_once`` previews and as
    many ups at once. A run whose stack holds nothing yet (``StackRun.only_creates``) is not
    previewed: its plan is to create its users.

    An ``up`` need not wait for the previews still running or queued once they cannot make the
    guard refuse: when the users it counts so far plus every user of those shards are not a mass
    deletion, no plan of theirs can be one. From then on each run with changes goes to its ``up``
    as soon as an up's slot is free, and shards whose digest differs from their last update's are
    previewed first, so a roster change applies while the rest is still being previewed. Ups have
    slots of their own (a stack's program, engine and provider take turns, leaving cores idle).
    A refusal means no ``up`` was started; after a preview fails no ``up`` starts."""
    previews = {
        run.name: StackResult(run.name, run.user_ids, {"create": len(run.users)}) for run in runs if run.only_creates
    }
    queued = [run for run in runs if run.name not in previews]
    queued.sort(key=lambda run: run.outputs.fleet_digest == run.digest)  # changed shards first
    ready = [run for run in runs if run.name in previews]
    previewing = {run.name for run in queued}  # queued or running
    planned, applied = fleet.changes_by_user(runs), fleet.changes_by_user(runs)
    ups: dict[str, StackResult] = {}
    updated: list[str] = []
    failed_previews: list[str] = []
    with fleet.handed_outputs(runs) as handed, ThreadPoolExecutor(max_workers=2 * fleet.stacks_at_once) as pool:
        running = {}
        while True:
            not_previewed = [run for run in runs if run.name in previewing]
            may_up = not failed_previews and fleet.refusal(everyone, planned, not_previewed) is None
            ups_running = sum(1 for run in running.values() if run.name not in previewing)
            while may_up and ready and ups_running < fleet.stacks_at_once:
                run = ready.pop(0)
                updated.append(run.name)
                running[pool.submit(fleet.run_one, run, "up", applied, None, progress)] = run
                ups_running += 1
            while queued and len(running) - ups_running < fleet.stacks_at_once:
                run = queued.pop(0)
                running[pool.submit(fleet.run_one, run, "preview", planned, handed, progress)] = run
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                run, result = running.pop(future), future.result()
                if run.name not in previewing:
                    ups[run.name] = result
                    continue
                previewing.discard(run.name)
                previews[run.name] = result
                if result.error:
                    failed_previews.append(run.name)
                elif result.has_changes:
                    ready.append(run)
    return Converged(
        plan=Plan(tuple(previews[run.name] for run in runs), planned),
        applied=Applied(tuple(ups[run.name] for run in runs if run.name in ups), applied),
        updated=tuple(updated),
        failed_previews=tuple(failed_previews),
        refusal=fleet.refusal(everyone, planned),
    )


def refresh(
    fleet: Fleet, runs: list[StackRun], everyone: list[StackRun], progress: Progress | None = None
) -> Converged:
    """``pulumi refresh --preview-only`` of every run (reads what the target holds, changes no
    state), the guard over what the refreshes would drop (``everyone``: every shard), then
    ``pulumi refresh`` of each run whose preview found drift; none when refused or when a
    preview failed. A refresh that drops a user's volume or app counts as that user losing data:
    a wrong token or organisation answers "not found" for everything, and the ``up`` after would
    make every user a new, empty gateway."""
    plan = Plan(*fleet.run_all(runs, "refresh-preview", None, progress))
    refusal = fleet.refusal(everyone, plan.by_user)
    failed = tuple(result.stack for result in plan.stacks if result.error)
    drifted = [run for run, result in zip(runs, plan.stacks, strict=True) if result.has_changes]
    chosen = [] if refusal or failed else drifted
    applied = Applied(*fleet.run_all(chosen, "refresh", None, progress))
    return Converged(plan, applied, tuple(run.name for run in chosen), failed, refusal)
