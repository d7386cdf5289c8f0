"""``--executor local``: the grid's runs one after another in this process."""

from __future__ import annotations

from dataclasses import replace

from bench.grid.events import FINISHED, STARTED, EventSink, GridEvent
from bench.grid.job import GridRun, GridSettings, RunOutcome, run_job, worker_name
from bench.store import Store


class LocalExecutor:
    """Runs each grid run in turn, in the calling process, on the caller's open store."""

    name = "local"

    def __init__(self, store: Store | None = None):
        self.store = store

    def run(self, runs: list[GridRun], settings: GridSettings, on_event: EventSink) -> list[RunOutcome]:
        """Execute ``runs`` in order; Ctrl-C stops the grid (the run keeps what it stored and resumes next time)."""
        outcomes = []
        for run in runs:
            on_event(GridEvent(STARTED, run, 1, worker_name()))
            outcome = replace(run_job(run, settings, self.store), attempts=1)
            outcomes.append(outcome)
            on_event(GridEvent(FINISHED, run, 1, outcome.where, outcome))
        return outcomes
