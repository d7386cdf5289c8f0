"""One run of a grid as a worker receives it, and what the worker sends back.

A :class:`GridRun` carries only plain values (names, a data root, hashes), so
it travels to a worker process or a Ray task by pickling. The worker
(:func:`run_job`) opens the dataset at the root every worker is expected to
see, checks the data against the manifest hash the grid was planned on and
the run's identity against the planned key, and only then calls
:func:`bench.runner.execute`, which writes to the shared store itself. A worker
with another copy of the data, or other plugin code, fails its run with a
message naming both instead of storing a run of its own.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field

from bench.errors import BenchError


class DataMismatch(BenchError):
    """A worker's copy of a dataset is not the one the grid was planned on (another manifest hash)."""


class CodeMismatch(BenchError):
    """A worker's installed detector or plugin differs from the planner's: the run would get another identity."""


@dataclass(frozen=True)
class Resources:
    """What one run asks a scheduler for: CPU cores, GPUs and host memory (bytes; 0: nothing reserved)."""

    cpus: float = 1.0
    gpus: float = 0.0
    memory_bytes: int = 0


@dataclass(frozen=True)
class GridRun:
    """One run of the grid: a :class:`bench.runner.RunRequest` in plain values, with its planned identity.

    Attributes:
        index: position in the grid (stable across re-runs of the same plan).
        label: how the run is shown, e.g. ``intensity-zscore[grid=16] bmad-brain seed 1``.
        data_root: the dataset folder, absolute, as every worker sees it.
        manifest_hash: the dataset's manifest hash when the grid was planned.
        run_key: the run's identity key when the grid was planned.
    """

    index: int
    label: str
    detector: str
    dataset: str
    data_root: str
    manifest_hash: str
    run_key: str
    protocols: str
    seed: int
    frame: str
    preset: str | None = None
    overrides: tuple[str, ...] = ()
    device: str = "auto"
    batch_size: int = 8
    allow_new_code: bool = False
    resources: Resources = field(default_factory=Resources)


@dataclass(frozen=True)
class GridSettings:
    """What every worker of one grid shares: the store, the prediction cache and the claim timing.

    Attributes:
        store: SQLAlchemy URL of the store (every worker writes to it).
        predictions: prediction cache root (a folder every worker sees, or a URL such as ``s3://bucket/prefix``).
        stale_after_s: a claim whose heartbeat is older is taken over (a lost worker's run resumes after this).
        wait_s: how long a worker waits for a claim held by another process.
    """

    store: str
    predictions: str
    stale_after_s: float = 60.0
    wait_s: float = 90.0


@dataclass(frozen=True)
class RunOutcome:
    """What became of one grid run.

    Attributes:
        status: ``complete``, ``failed`` or ``skipped`` (the store already held it).
        evaluations: summary metrics per protocol (e.g. ``{"valid-f1": {"dice": 0.41, ...}}``).
        where: ``host:pid`` of the worker that ran it (empty when skipped).
        seconds: wall time of the last attempt.
        attempts: how many times it was started (more than one after a worker was lost).
    """

    index: int
    status: str
    run_id: int | None = None
    evaluations: dict[str, dict[str, float]] = field(default_factory=dict)
    error: str | None = None
    where: str = ""
    seconds: float = 0.0
    attempts: int = 1
    resumed: int = 0
    predicted: int = 0


def worker_name() -> str:
    """``host:pid`` of this process, as claims record it."""
    return f"{socket.gethostname()}:{os.getpid()}"


_STORES: dict[str, object] = {}


def _store(url: str):
    """One store per URL and process: a worker runs many runs, and opening checks the schema each time."""
    from bench.store import Store

    if url not in _STORES:
        _STORES[url] = Store(url)
    return _STORES[url]


def check_data(run: GridRun):
    """Open the run's dataset as this worker sees it and check it is the planned one.

    Raises:
        DataMismatch: naming the worker, the folder and both manifest hashes.
        BenchError: the dataset cannot be opened here (missing folder, malformed tree).
    """
    from bench.datasets.registry import open_dataset

    dataset = open_dataset(run.dataset, run.data_root)
    found = dataset.manifest_hash()
    if found != run.manifest_hash:
        raise DataMismatch(
            f"worker {worker_name()}: dataset {run.dataset} at {run.data_root} has manifest {found[:12]}, "
            f"but the grid was planned on manifest {run.manifest_hash[:12]}: this worker sees another copy of the "
            "data, so the run is not executed here (give every worker the same files at the same path)"
        )
    return dataset


def run_job(run: GridRun, settings: GridSettings, store=None) -> RunOutcome:
    """Execute one grid run in this process and say what became of it.

    A run's own failure (bad data, a failing detector, a busy claim) becomes a ``failed`` outcome;
    only Ctrl-C (:class:`bench.runner.RunInterrupted`) is raised, after the runner kept what it stored.

    Args:
        store: an open :class:`bench.store.Store` on ``settings.store`` (default: one per process).
    """
    from bench.runner import RunInterrupted, RunRequest, execute, plan_run

    started = time.perf_counter()
    where = worker_name()
    try:
        dataset = check_data(run)
        request = RunRequest(
            detector=run.detector,
            dataset=dataset,
            protocols=run.protocols,
            preset=run.preset,
            overrides=list(run.overrides),
            seed=run.seed,
            frame=run.frame,
            device=run.device,
            batch_size=run.batch_size,
            allow_new_code=run.allow_new_code,
            wait_s=settings.wait_s,
            predictions=settings.predictions,
            stale_after_s=settings.stale_after_s,
        )
        key = plan_run(request).key
        if key != run.run_key:
            raise CodeMismatch(
                f"worker {where}: this request has identity {key[:12]} here, but {run.run_key[:12]} where the grid "
                "was planned: the installed detector or plugin version differs (install the same code on every worker)"
            )
        result = execute(request, store if store is not None else _store(settings.store))
    except RunInterrupted:
        raise
    except BenchError as exc:
        return RunOutcome(
            run.index, "failed", getattr(exc, "run_id", None), error=str(exc), where=where, seconds=_since(started)
        )
    except Exception as exc:  # a bug in one run must not take the worker (and the grid's other runs) down
        message = f"{type(exc).__name__}: {exc}"
        return RunOutcome(run.index, "failed", error=message, where=where, seconds=_since(started))
    failed = "; ".join(f"{p}: {e}" for p, e in result.failed_evaluations.items()) or None
    return RunOutcome(
        run.index,
        "failed" if failed else "complete",
        result.run_id,
        result.evaluations,
        error=failed,
        where=where,
        seconds=_since(started),
        resumed=result.resumed_cases,
        predicted=result.predicted_cases,
    )


def _since(started: float) -> float:
    return time.perf_counter() - started
