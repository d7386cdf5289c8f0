"""The weights ledger: which pretrained files a detector actually loaded, as the platform saw them.

The runner opens a ledger around every call into a detector. Loading a
checkpoint through :func:`bench.weights.load_checkpoint` records it; a plugin
that reads pretrained weights by other means (a timm or torch hub cache)
calls :func:`record_weights` with the file, and the platform hashes the file
itself. What the ledger holds, not what a plugin says, decides a run's
``weights`` provenance and its ``random-init`` mark (see
:mod:`bench.marks`).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import WeightsError


@dataclass(frozen=True)
class LoadedFile:
    """One pretrained file a detector loaded: a name for people, the file's SHA-256 as hashed by the platform."""

    name: str
    sha256: str
    path: str


@dataclass
class WeightsLedger:
    """Every pretrained file loaded while the ledger was open, in load order, each once."""

    files: list[LoadedFile] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, entry: LoadedFile) -> None:
        with self._lock:
            if all((f.name, f.sha256) != (entry.name, entry.sha256) for f in self.files):
                self.files.append(entry)


_CURRENT: contextvars.ContextVar[WeightsLedger | None] = contextvars.ContextVar("mias_bench_weights", default=None)
# Plugins may load weights on threads they start; those threads do not inherit the context.
_PROCESS: list[WeightsLedger] = []


@contextmanager
def open_ledger(ledger: WeightsLedger) -> Iterator[WeightsLedger]:
    """Record every load into ``ledger`` until the block ends (the runner's side)."""
    token = _CURRENT.set(ledger)
    _PROCESS.append(ledger)
    try:
        yield ledger
    finally:
        _PROCESS.remove(ledger)
        _CURRENT.reset(token)


def _current() -> WeightsLedger | None:
    ledger = _CURRENT.get()
    if ledger is None and _PROCESS:
        ledger = _PROCESS[-1]
    return ledger


def note_loaded(name: str, sha256: str, path: Path | str) -> None:
    """Record a file whose digest the platform has just computed (used by :func:`load_checkpoint`)."""
    ledger = _current()
    if ledger is not None:
        ledger.add(LoadedFile(name=name, sha256=sha256, path=str(path)))


def record_weights(path: str | Path, name: str | None = None) -> str:
    """Tell the platform that pretrained weights were read from ``path``; returns the file's SHA-256.

    For plugins that load weights by other means than
    :func:`bench.weights.load_checkpoint` (e.g. a backbone from timm's cache).
    The platform hashes the file itself, so the digest stored with the run is
    the file's, whatever the plugin reports elsewhere.

    Raises:
        WeightsError: ``path`` is not a readable file.
    """
    from bench.hashing import sha256_file

    path = Path(path)
    if not path.is_file():
        raise WeightsError(
            f"record_weights: expected a weights file at {path}, found {'a folder' if path.exists() else 'nothing'}"
        )
    digest = sha256_file(path)
    note_loaded(name or path.name, digest, path)
    return digest
