"""What an executor tells its caller while a grid runs, and what a grid gives back.

Executors never print: they call ``on_event`` with a :class:`GridEvent` when a
run starts (again, after a lost worker), when a worker is lost, and when a run
finishes; the CLI turns these into lines and a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bench.grid.job import GridRun, RunOutcome

STARTED, LOST, FINISHED = "started", "lost", "finished"


@dataclass(frozen=True)
class GridEvent:
    """One thing that happened to one run.

    Attributes:
        kind: ``started`` (an attempt began on ``where``), ``lost`` (the worker running it died; it is
            started again if retries are left) or ``finished`` (``outcome`` says how).
        attempt: 1 for the first start, 2 after one lost worker, ...
        where: ``host:pid`` of the worker.
    """

    kind: str
    run: GridRun
    attempt: int
    where: str = ""
    outcome: RunOutcome | None = None
    note: str = ""


EventSink = Callable[[GridEvent], None]


def ignore_events(event: GridEvent) -> None:
    """An ``on_event`` that drops everything."""


@dataclass
class GridResult:
    """Every run of a grid in plan order with its outcome (executed or skipped)."""

    runs: list[GridRun]
    outcomes: dict[int, RunOutcome] = field(default_factory=dict)

    def with_status(self, status: str) -> list[tuple[GridRun, RunOutcome]]:
        return [(r, self.outcomes[r.index]) for r in self.runs if self.outcomes[r.index].status == status]

    @property
    def complete(self) -> list[tuple[GridRun, RunOutcome]]:
        return self.with_status("complete")

    @property
    def failed(self) -> list[tuple[GridRun, RunOutcome]]:
        return self.with_status("failed")

    @property
    def skipped(self) -> list[tuple[GridRun, RunOutcome]]:
        return self.with_status("skipped")
