"""Consoles and progress for the CLI: results to stdout, everything else to stderr."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench.formatting import json_safe


def out() -> Console:
    """Results console; when piped, wide enough that tables are not squeezed to 80 columns."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # a pipe or a file: rich would otherwise assume 80 columns (or $COLUMNS)
    return console


def err() -> Console:
    return Console(stderr=True)


def print_json(data: Any) -> None:
    """Plain JSON on stdout (NaN becomes null), for scripts."""
    print(json.dumps(json_safe(data), indent=2, sort_keys=False, default=str))


class RichReporter:
    """Draws the runner's phases as rich progress bars on stderr."""

    def __init__(self) -> None:
        self.console = err()
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self._task = None

    def __enter__(self) -> RichReporter:
        self.progress.start()
        return self

    def __exit__(self, *exc) -> None:
        self._finish()
        self.progress.stop()

    def _finish(self) -> None:
        if self._task is not None:
            task = self.progress.tasks[-1]
            self.progress.update(
                self._task, completed=task.total if task.total is not None else 1, total=task.total or 1
            )

    def phase(self, name: str, total: int | None) -> None:
        self._finish()
        self._task = self.progress.add_task(name, total=total)

    def advance(self, n: int = 1) -> None:
        if self._task is not None:
            self.progress.advance(self._task, n)

    def step(self, task: str, done: int, total: int | None) -> None:
        """A detector's own progress inside a hook (e.g. training epochs): one bar per task name."""
        steps = self.__dict__.setdefault("_steps", {})
        if task not in steps:
            steps[task] = self.progress.add_task(f"  {task}", total=total)
        self.progress.update(steps[task], completed=done, total=total)

    def log(self, message: str) -> None:
        self.progress.console.print(message, style="dim", highlight=False, markup=False, soft_wrap=True)
