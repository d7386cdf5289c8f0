"""``execute``: plan a request, claim its run, run the stages, release the run.

The same request twice is recognised (identity: :class:`~bench.provenance.Provenance`),
a run that was interrupted resumes from the test cases already stored, and a
request made with other detector or plugin code than the stored run's is
refused with both versions named unless a new run is asked for. The state of
a run (its predictions) and of each evaluation (a protocol scored on them) are
kept apart: a failure while adding a protocol to a complete run fails that
evaluation and leaves the run and its other evaluations as they were.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from bench.errors import BenchError
from bench.runner.plan import RunPlan, RunRequest, plan_run
from bench.runner.reporting import Reporter, SilentReporter
from bench.runner.stages import Execution
from bench.store import Owner, OwnershipLost, Run, Store
from bench.store.owners import HEARTBEAT_S
from bench.weights.ledger import WeightsLedger, open_ledger


class RunFailed(BenchError):
    """A detector failed mid-run; the run (or the evaluations being added) is stored as failed with this error."""

    def __init__(self, message: str, run_id: int):
        super().__init__(message)
        self.run_id = run_id


class RunInterrupted(BenchError):
    """The user stopped a run (Ctrl-C); what was stored is kept and the same command resumes it."""


class RunBusy(BenchError):
    """Another live process is executing the same run."""


class CodeChanged(BenchError):
    """The stored run of this request was made by another detector or plugin version."""


@dataclass
class RunResult:
    """What one :func:`execute` did: the run, how many test cases were resumed and predicted, the scores."""

    run_id: int
    run_key: str
    detector: str
    resumed_cases: int
    predicted_cases: int
    evaluations: dict[str, dict[str, float]]
    failed_evaluations: dict[str, str] = field(default_factory=dict)
    reused: bool = False


def execute(request: RunRequest, store: Store, reporter: Reporter | None = None) -> RunResult:
    """Run one detector on one dataset's test split and store everything.

    Raises:
        BenchError: a bad request (unknown detector, config, protocol, data), before anything is stored;
            :class:`CodeChanged`, :class:`RunBusy` before anything is written.
        RunFailed: the detector failed; stored as described in the module docstring.
        RunInterrupted: the user pressed Ctrl-C; the run keeps what it stored and resumes on the next call.
    """
    reporter = reporter or SilentReporter()
    plan = plan_run(request)
    reporter.log(f"{plan.name}: {plan.dataset.name} at {plan.dataset.location()}, run {plan.key[:12]}")
    existing = store.find_run(plan.key)
    if existing is None:
        _refuse_code_change(store, plan, request)
    elif existing.status == "complete":
        scored = {e.protocol for e in store.evaluations(existing.id, status="complete")}
        if all(p.name in scored for p in plan.protocols):
            reporter.log(f"{plan.name}: already stored as run {existing.id}; nothing to do")
            return RunResult(
                existing.id, plan.key, plan.name, existing.n_cases, 0, summaries(store, existing.id), {}, True
            )
    owner = Owner()
    run = _claim(store, plan, owner, request.wait_s, reporter)
    ledger = WeightsLedger()
    execution = Execution(plan, store, run, owner.token, reporter, ledger)
    try:
        with _Heartbeat(store, run.id, owner.token), open_ledger(ledger):
            execution.execute()
    except KeyboardInterrupt:
        kept = execution.kept
        store.release_run(run.id, owner.token, **_failure_fields(execution, "interrupted by the user", "interrupted"))
        raise RunInterrupted(
            f"interrupted: run {run.id} ({plan.name}) keeps {kept} of {len(plan.test_refs)} test predictions; "
            "run the same command again to resume"
        ) from None
    except OwnershipLost:
        raise
    except Exception as exc:
        message = f"{type(exc).__name__}: {exc}" if not isinstance(exc, BenchError) else str(exc)
        if execution.run.status == "complete":
            for protocol in execution.to_score:
                store.save_evaluation(run.id, owner.token, protocol=protocol.name, error=message)
        store.release_run(run.id, owner.token, **_failure_fields(execution, message, "failed"))
        raise RunFailed(
            f"run {run.id} ({plan.name}) failed: {message}" + _kept_note(execution, len(plan.test_refs), run.id),
            run.id,
        ) from exc
    store.release_run(run.id, owner.token)
    failed = {s.protocol.name: s.error for s in execution.results if s.error is not None}
    return RunResult(
        run.id, plan.key, plan.name, execution.resumed, execution.predicted, summaries(store, run.id), failed
    )


def summaries(store: Store, run_id: int) -> dict[str, dict[str, float]]:
    """Summary metrics of every complete evaluation of a run, by protocol."""
    return {e.protocol: store.summary(e.id) for e in store.evaluations(run_id, status="complete")}


def _failure_fields(execution: Execution, message: str, status: str) -> dict:
    """A complete run stays complete (only the evaluations being added failed); otherwise it takes ``status``."""
    if execution.run.status == "complete":
        return {}
    return {"status": status, "error": message}


def _kept_note(execution: Execution, total: int, run_id: int) -> str:
    if execution.run.status == "complete":
        return f"; the run stays complete, only {', '.join(p.name for p in execution.to_score)} failed"
    return f"; {execution.kept} of {total} test predictions are kept and the same command resumes run {run_id}"


def _refuse_code_change(store: Store, plan: RunPlan, request: RunRequest) -> None:
    others = store.find_lineage(plan.lineage_key)
    if not others or request.allow_new_code:
        return
    prov = plan.provenance
    old = others[-1]
    raise CodeChanged(
        f"run {old.id} of this request was made by {old.detector} {old.detector_version} "
        f"({old.plugin_dist} {old.plugin_version}); the installed one is {prov.detector} {prov.detector_version} "
        f"({prov.plugin_dist} {prov.plugin_version}). Its predictions are not reused or resumed by other code: "
        "pass --new-run to start a new run with the installed version (both stay in the store)"
    )


def _claim(store: Store, plan: RunPlan, owner: Owner, wait_s: float, reporter: Reporter) -> Run:
    """Claim the run, waiting up to ``wait_s`` seconds for another live owner."""
    deadline = time.monotonic() + max(0.0, wait_s)
    told = False
    while True:
        claim = store.claim_run(plan.columns(), owner, plan.request.stale_after_s)
        if claim.run is not None:
            return claim.run
        assert claim.holder is not None
        left = deadline - time.monotonic()
        if left <= 0:
            raise RunBusy(f"{claim.holder.describe()}; run the command again later, or pass --wait SECONDS")
        if not told:
            reporter.log(f"{claim.holder.describe()}; waiting up to {wait_s:.0f} s")
            told = True
        time.sleep(min(1.0, left))


class _Heartbeat:
    """Refreshes the run's claim every :data:`HEARTBEAT_S` seconds on a background thread."""

    def __init__(self, store: Store, run_id: int, token: str, every_s: float = HEARTBEAT_S):
        self.store, self.run_id, self.token, self.every_s = store, run_id, token, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-run-{run_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                if not self.store.heartbeat(self.run_id, self.token):
                    return  # lost: the next write of the run says so
            except Exception:  # a transient store error: try again at the next beat
                continue
