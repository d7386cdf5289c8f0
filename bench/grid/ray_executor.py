"""``--executor ray --address ADDR``: each grid run is a Ray task on an existing cluster.

A task asks for what its detector declares (``Capabilities.cpus``, ``gpu``,
``memory_gib``; see :func:`bench.grid.expand.resources_of`), opens the dataset
at the root every node sees, checks it against the planned manifest, and
writes to the shared store itself. Ray starts a task again when its worker is
lost (``max_retries``); the run's claim then belongs to a process that is gone
(taken over at once on the same host) or stops beating (taken over after
``stale_after_s`` elsewhere), so the retry resumes from the cases stored and
no row is written twice. Ray is optional: ``pip install 'mias-bench[ray]'``.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections import Counter
from dataclasses import replace
from typing import Any

from bench.errors import BenchError, ConfigError
from bench.grid.events import FINISHED, LOST, STARTED, EventSink, GridEvent
from bench.grid.job import GridRun, GridSettings, RunOutcome

_POLL_S = 0.5


class ExecutorUnavailable(BenchError):
    """The asked executor cannot run here (its optional dependency is missing, its cluster unreachable)."""


def import_ray() -> Any:
    """The ``ray`` module, or an error that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ExecutorUnavailable(
            "--executor ray needs Ray, which is not installed: pip install 'mias-bench[ray]' "
            "(or run the grid with --executor local or --executor process)"
        ) from None
    return ray


def _ray_task(run: GridRun, settings: GridSettings, events: Any) -> RunOutcome:
    """The body of one Ray task: announce the attempt, then run the job in this worker."""
    from bench.grid.job import run_job, worker_name

    with contextlib.suppress(Exception):  # progress lines only; never a reason to fail the run
        events.put((STARTED, run.index, worker_name()), timeout=10)
    return run_job(run, settings)


class RayExecutor:
    """Submits every run as a Ray task and collects the outcomes as they finish.

    Args:
        address: the cluster (``ray://`` or ``HOST:PORT``; ``auto`` for the local node's cluster).
        retries: how many times Ray starts a task again after its worker or node is lost.
        env: environment variables set for the tasks (a ``runtime_env``), e.g. ``{"HF_HUB_OFFLINE": "1"}``.
    """

    name = "ray"

    def __init__(self, address: str = "auto", retries: int = 3, env: dict[str, str] | None = None):
        if retries < 0:
            raise ConfigError(f"--retries must be 0 or more, got {retries}")
        self.address, self.retries, self.env = address, retries, dict(env or {})
        self.ray = import_ray()

    def _reachable(self) -> None:
        """Refuse a ``HOST:PORT`` nobody listens on at once (``ray.init`` would keep retrying for minutes)."""
        if self.address in ("auto", "local") or "://" in self.address:
            return
        host, _, port = self.address.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=10):
                pass
        except (OSError, ValueError) as exc:
            raise ExecutorUnavailable(
                f"cannot reach the Ray cluster at {self.address} ({exc}); start it with `ray start --head` "
                "or pass its address with --address HOST:PORT"
            ) from None

    def _connect(self) -> bool:
        """Join the cluster unless this process already has; True when it joined here."""
        ray = self.ray
        if ray.is_initialized():
            return False
        self._reachable()
        try:
            ray.init(address=self.address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ExecutorUnavailable(f"cannot join the Ray cluster at {self.address}: {exc}") from None
        return True

    def _options(self, run: GridRun, cluster_gpus: float) -> dict[str, Any]:
        needs = run.resources
        if run.device == "cuda" and not cluster_gpus:
            raise ConfigError(f"{run.label}: device cuda was asked, but the Ray cluster at {self.address} has no GPU")
        options: dict[str, Any] = {
            "num_cpus": needs.cpus,
            "num_gpus": needs.gpus if cluster_gpus else 0,
            "max_retries": self.retries,
            "retry_exceptions": False,  # a run's own failure is an outcome, not a reason to start it again
            "name": f"mias-bench {run.label}",
        }
        if needs.memory_bytes:
            options["memory"] = needs.memory_bytes
        if self.env:
            options["runtime_env"] = {"env_vars": self.env}
        return options

    def run(self, runs: list[GridRun], settings: GridSettings, on_event: EventSink) -> list[RunOutcome]:
        """Submit ``runs``, report each start and finish, and return the outcomes in order."""
        ray = self.ray
        joined = self._connect()
        try:
            from ray.util.queue import Queue

            cluster_gpus = float(ray.cluster_resources().get("GPU", 0))
            options = {run.index: self._options(run, cluster_gpus) for run in runs}
            events = Queue(actor_options={"num_cpus": 0})
            task = ray.remote(_ray_task)
            pending = {task.options(**options[run.index]).remote(run, settings, events): run for run in runs}
            attempts: Counter[int] = Counter()
            outcomes: dict[int, RunOutcome] = {}
            try:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1, timeout=_POLL_S)
                    self._announce(events, {r.index: r for r in runs}, attempts, on_event)
                    for ref in done:
                        run = pending.pop(ref)
                        outcome = self._outcome(ref, run, attempts[run.index])
                        outcomes[run.index] = outcome
                        on_event(GridEvent(FINISHED, run, outcome.attempts, outcome.where, outcome))
            except BaseException:
                for ref in pending:  # Ctrl-C or a driver error: the claims of killed tasks go stale, runs resume
                    with contextlib.suppress(Exception):
                        ray.cancel(ref, force=True)
                raise
            finally:
                with contextlib.suppress(Exception):
                    events.shutdown()
            return [outcomes[r.index] for r in runs]
        finally:
            if joined:
                ray.shutdown()

    @staticmethod
    def _announce(events, runs: dict[int, GridRun], attempts: Counter, on_event: EventSink) -> None:
        """Report the attempts that began; a second start of a run means Ray lost the worker of the first."""
        try:
            started = events.get_nowait_batch(events.qsize())
        except Exception:  # the events actor is gone: only the progress lines suffer
            return
        for kind, index, where in started:
            if attempts[index]:
                on_event(GridEvent(LOST, runs[index], attempts[index], note="its Ray worker was lost; Ray retries it"))
            attempts[index] += 1
            on_event(GridEvent(kind, runs[index], attempts[index], where))

    def _outcome(self, ref, run: GridRun, attempts: int) -> RunOutcome:
        ray = self.ray
        try:
            outcome = ray.get(ref)
        except ray.exceptions.RayError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            lost = isinstance(
                exc, ray.exceptions.WorkerCrashedError | ray.exceptions.NodeDiedError | ray.exceptions.OutOfMemoryError
            )
            why = f"its Ray worker was lost {attempts} time(s), retries exhausted" if lost else "the Ray task failed"
            return RunOutcome(run.index, "failed", error=f"{why} ({type(exc).__name__}: {first})", attempts=attempts)
        return replace(outcome, attempts=max(attempts, 1))
