"""``run_grid``: a plan expanded, the stored runs skipped, the rest handed to an executor.

The stages, in order: :func:`bench.grid.expand.expand_grid` (validate every
combination, plan each run's identity, skip what the store holds), then the
executor (:class:`~bench.grid.local.LocalExecutor`,
:class:`~bench.grid.process.ProcessExecutor` or
:class:`~bench.grid.ray_executor.RayExecutor`) runs the rest, each run writing
to the shared store. Re-running the same plan does nothing once every run is
stored.
"""

from __future__ import annotations

from typing import Protocol

from bench.grid.events import EventSink, GridResult, ignore_events
from bench.grid.expand import GridExpansion, expand_grid
from bench.grid.job import GridRun, GridSettings, RunOutcome
from bench.grid.plan import GridPlan
from bench.paths import predictions_root
from bench.store import Store

#: A lost worker's run is taken over after this long without a heartbeat (heartbeats come every 10 s).
GRID_STALE_AFTER_S = 60.0


class Executor(Protocol):
    name: str

    def run(self, runs: list[GridRun], settings: GridSettings, on_event: EventSink) -> list[RunOutcome]: ...


def grid_settings(store: Store, cache: str | None = None, stale_after_s: float = GRID_STALE_AFTER_S) -> GridSettings:
    """What every worker shares: the store's URL, the prediction cache root (``cache``, else the configured one)."""
    return GridSettings(
        store=store.url, predictions=predictions_root(cache), stale_after_s=stale_after_s, wait_s=stale_after_s + 30
    )


def run_grid(
    plan: GridPlan | GridExpansion,
    store: Store,
    executor: Executor,
    settings: GridSettings | None = None,
    on_event: EventSink = ignore_events,
) -> GridResult:
    """Expand ``plan`` (unless already expanded), skip what ``store`` holds, execute the rest.

    Raises:
        BenchError: a bad plan (before anything runs) or an executor that cannot start.
        RunInterrupted: Ctrl-C under the local executor (the run resumes next time).
    """
    expansion = plan if isinstance(plan, GridExpansion) else expand_grid(plan, store)
    settings = settings or grid_settings(store)
    result = GridResult(expansion.runs, dict(expansion.skipped))
    todo = expansion.todo
    if todo:
        for outcome in executor.run(todo, settings, on_event):
            result.outcomes[outcome.index] = outcome
    return result
