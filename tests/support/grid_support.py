"""Helpers of the grid tests: the standard small grid, rows counted by SQL, a worker killer."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

from bench.grid import DatasetEntry, DetectorEntry, GridPlan

#: Test cases of each synthetic dataset the grid tests generate.
N_TEST = 8


def two_by_two_by_two(grid_data: Path, **options) -> GridPlan:
    """2 detectors x 2 modalities x 2 seeds, scored under valid-f1."""
    return GridPlan(
        detectors=(DetectorEntry(name="intensity-zscore"), DetectorEntry(name="blocks-once")),
        datasets=(
            DatasetEntry(name="bmad-brain", root=str(grid_data / "brain")),
            DatasetEntry(name="bmad-liver", root=str(grid_data / "liver")),
        ),
        seeds=(0, 1),
        protocols="valid-f1",
        batch_size=2,
        **options,
    )


def rows_per_run(url: str) -> dict[int, tuple[int, int]]:
    """Per run id: (prediction rows, distinct case ids), counted by SQL on the store."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            query = "SELECT run_id, count(*), count(DISTINCT case_id) FROM case_predictions GROUP BY run_id"
            return {int(r[0]): (int(r[1]), int(r[2])) for r in conn.execute(text(query))}
    finally:
        engine.dispose()


class Killer:
    """Waits on a thread for the blocked worker's marker, then SIGKILLs the process id written in it."""

    def __init__(self, marker: Path, timeout_s: float = 240):
        self.marker, self.timeout_s = marker, timeout_s
        self.killed: int | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Killer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.thread.join(5)

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not self.marker.exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        pid = int(self.marker.read_text())
        os.kill(pid, signal.SIGKILL)
        self.killed = pid
