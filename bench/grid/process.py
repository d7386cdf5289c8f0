"""``--executor process --workers N``: N worker processes on this machine, each pinned to its share.

Worker ``i`` is started (``spawn``) with its own device and cores: with GPUs
(``CUDA_VISIBLE_DEVICES`` of the caller, else every GPU the NVIDIA driver
lists) it sees exactly one, ``CUDA_VISIBLE_DEVICES=<gpu i mod count>``; the
machine's cores are split between the workers (CPU affinity, and
``OMP_NUM_THREADS`` and friends unless the caller set them), so N workers do
not oversubscribe the CPU. A worker runs one grid run at a time and writes to
the store itself. A worker that dies (killed, out of memory) is replaced in
its slot and its run is started again, up to ``retries`` times; the run's claim
belongs to a process that is gone, so the new attempt resumes it at once.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections import Counter, deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from pathlib import Path

from bench.errors import ConfigError
from bench.grid.events import FINISHED, LOST, STARTED, EventSink, GridEvent
from bench.grid.job import GridRun, GridSettings, RunOutcome

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_STOP_WAIT_S = 10.0


def visible_gpus() -> list[str]:
    """GPU ids a worker may be given: ``CUDA_VISIBLE_DEVICES`` when set, else one per GPU the driver lists."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip() and g.strip() != "-1"]
    folder = Path("/proc/driver/nvidia/gpus")
    return [str(i) for i in range(len(list(folder.iterdir())))] if folder.is_dir() else []


@dataclass(frozen=True)
class Slot:
    """One worker's share of the machine: its environment additions and the cores it runs on."""

    index: int
    env: dict[str, str] = field(default_factory=dict)
    cores: tuple[int, ...] = ()

    def describe(self) -> str:
        gpu = self.env.get("CUDA_VISIBLE_DEVICES")
        return f"worker {self.index}: " + (f"GPU {gpu}, " if gpu else "") + f"cores {list(self.cores)}"


def plan_slots(workers: int, gpus: Sequence[str], cores: Sequence[int]) -> list[Slot]:
    """Split GPUs (round robin) and cores (contiguous, as even as possible) between ``workers`` slots."""
    cores = sorted(cores)
    slots = []
    for i in range(workers):
        if len(cores) >= workers:
            share = tuple(cores[i * len(cores) // workers : (i + 1) * len(cores) // workers])
        else:
            share = (cores[i % len(cores)],)
        env = {name: str(len(share)) for name in _THREAD_VARIABLES if name not in os.environ}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[i % len(gpus)]
        slots.append(Slot(i, env, share))
    return slots


@contextlib.contextmanager
def _inherited(slot: Slot) -> Iterator[None]:
    """Environment and CPU affinity that a process started inside this block is born with."""
    saved_env = {k: os.environ.get(k) for k in slot.env}
    saved_cores = os.sched_getaffinity(0)
    os.environ.update(slot.env)
    if slot.cores:
        os.sched_setaffinity(0, slot.cores)
    try:
        yield
    finally:
        os.sched_setaffinity(0, saved_cores)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _worker_main(conn: Connection) -> None:
    """A worker's loop: receive a run, say it started, execute it, send the outcome; ``None`` stops it."""
    from bench.grid.job import run_job, worker_name
    from bench.runner import RunInterrupted

    while True:
        try:
            message = conn.recv()
        except (EOFError, KeyboardInterrupt):
            return
        if message is None:
            return
        run, settings = message
        conn.send((STARTED, run.index, worker_name()))
        try:
            outcome = run_job(run, settings)
        except (RunInterrupted, KeyboardInterrupt):
            return  # Ctrl-C reached the whole process group; the runner kept what it stored
        conn.send((FINISHED, run.index, outcome))


@dataclass
class _Worker:
    slot: Slot
    process: multiprocessing.process.BaseProcess
    conn: Connection
    where: str = ""


class ProcessExecutor:
    """Runs a grid on ``workers`` local processes (see the module docstring).

    Args:
        gpus: GPU ids to pin workers to; ``None``: :func:`visible_gpus`; ``[]``: none.
        retries: how many times a run whose worker died is started again.
        pin_cores: give each worker its own cores (CPU affinity); off, only the thread counts are split
            (better on a machine that other jobs share, whose scheduler then moves workers to idle cores).
    """

    name = "process"

    def __init__(self, workers: int, gpus: Sequence[str] | None = None, retries: int = 2, pin_cores: bool = True):
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        if retries < 0:
            raise ConfigError(f"--retries must be 0 or more, got {retries}")
        self.retries = retries
        self.slots = plan_slots(workers, visible_gpus() if gpus is None else list(gpus), os.sched_getaffinity(0))
        if not pin_cores:
            self.slots = [replace(slot, cores=()) for slot in self.slots]
        self._context = multiprocessing.get_context("spawn")  # no fork of a process that may hold CUDA or threads

    def _start(self, slot: Slot) -> _Worker:
        mine, theirs = self._context.Pipe()
        process = self._context.Process(target=_worker_main, args=(theirs,), name=f"mias-bench-grid-{slot.index}")
        with _inherited(slot):
            process.start()
        theirs.close()
        return _Worker(slot, process, mine)

    def run(self, runs: list[GridRun], settings: GridSettings, on_event: EventSink) -> list[RunOutcome]:
        """Execute ``runs`` on the worker slots; a run whose worker dies is retried in a fresh worker."""
        queue = deque(runs)
        attempts: Counter[int] = Counter()
        outcomes: dict[int, RunOutcome] = {}
        workers: dict[int, _Worker] = {}
        busy: dict[int, GridRun] = {}  # slot index -> run
        try:
            while queue or busy:
                for slot in self.slots[: len(queue) + len(busy)]:
                    if slot.index in busy or not queue:
                        continue
                    worker = workers.get(slot.index)
                    if worker is None or not worker.process.is_alive():
                        worker = workers[slot.index] = self._start(slot)
                    run = queue.popleft()
                    busy[slot.index] = run
                    attempts[run.index] += 1  # counted when sent: a worker may die before it says it started
                    try:
                        worker.conn.send((run, settings))
                    except OSError:  # it died before the send: ended here, so its sentinel reports it lost
                        worker.process.kill()
                if not busy:
                    continue
                handles = [workers[s].conn for s in busy] + [workers[s].process.sentinel for s in busy]
                wait(handles)
                for index in list(busy):
                    self._collect(workers[index], busy, attempts, outcomes, on_event)
                    if index in busy and not workers[index].process.is_alive():
                        self._lost(workers.pop(index), busy.pop(index), queue, attempts, outcomes, on_event)
        finally:
            self._stop(workers.values())
        return [outcomes[r.index] for r in runs]

    def _collect(self, worker, busy, attempts, outcomes, on_event) -> None:
        """Read every message the worker has sent."""
        while True:
            try:
                if not worker.conn.poll():
                    return
                kind, index, payload = worker.conn.recv()
            except (EOFError, OSError):
                return
            run = busy[worker.slot.index]
            if kind == STARTED:
                worker.where = payload
                on_event(GridEvent(STARTED, run, attempts[index], payload, note=worker.slot.describe()))
            elif kind == FINISHED:
                outcomes[index] = replace(payload, attempts=attempts[index])
                del busy[worker.slot.index]
                on_event(GridEvent(FINISHED, run, attempts[index], worker.where, outcomes[index]))
                return

    def _lost(self, worker, run, queue, attempts, outcomes, on_event) -> None:
        worker.process.join()
        code = worker.process.exitcode
        note = f"worker {worker.where or worker.slot.index} died (exit code {code})"
        on_event(GridEvent(LOST, run, attempts[run.index], worker.where, note=note))
        if attempts[run.index] <= self.retries:
            queue.appendleft(run)  # its claim's process is gone: the next attempt resumes it at once
            return
        outcomes[run.index] = RunOutcome(
            run.index,
            "failed",
            error=f"{note}; the run was started {attempts[run.index]} times, each time its worker died",
            where=worker.where,
            attempts=attempts[run.index],
        )
        on_event(GridEvent(FINISHED, run, attempts[run.index], worker.where, outcomes[run.index]))

    @staticmethod
    def _stop(workers) -> None:
        """Ask every worker to stop, wait for them (Ctrl-C lets runs mark themselves interrupted), then end them."""
        for worker in workers:
            with contextlib.suppress(OSError):
                worker.conn.send(None)
        for worker in workers:
            worker.process.join(_STOP_WAIT_S)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(_STOP_WAIT_S)
            worker.conn.close()
