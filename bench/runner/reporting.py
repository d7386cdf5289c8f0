"""How the runner reports progress: a protocol the CLI draws; the library itself prints nothing."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Progress of a run: phases with an optional total, steps inside a detector's hook, log lines."""

    def phase(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def step(self, task: str, done: int, total: int | None) -> None: ...
    def log(self, message: str) -> None: ...


class SilentReporter:
    """A reporter that shows nothing (library calls, tests)."""

    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def step(self, task: str, done: int, total: int | None) -> None:
        pass

    def log(self, message: str) -> None:
        pass
