"""The stages of one claimed run, in the order :data:`STAGES` gives.

Each stage is a method of :class:`Execution` that decides for itself whether
it applies, over one typed :class:`~bench.runner.plan.RunPlan`:

- ``prepare``: read the stored predictions back (each checked against the
  digest the store recorded; a corrupt file is named, discarded and predicted
  again), work out what is left to predict and which protocols to score, and
  build the detector;
- ``fit``, ``calibrate``: the detector's hooks, when there is something to predict;
- ``predict_valid``: validation maps, when a protocol fits its threshold on them;
- ``predict_test``: the test cases not yet stored, one transaction per batch
  (the resume point); a transductive detector's predictions wait in memory for
- ``finalize``: one pass over them, stored together;
- ``complete``: the platform's provenance (weights from the ledger, the
  ``transductive`` mark from whether finalize ran) and status ``complete``;
- ``score``: every protocol not yet scored; one that fails is stored as a
  failed evaluation and the others are kept.

:meth:`Execution.close` always follows: the detector's ``close()``, then its
work folder is removed.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from bench.contract import Case, Detector, DetectorContext, LabelledCase, Prediction, validate_prediction
from bench.errors import BenchError, ConfigError, ContractViolation
from bench.metrics import MapMetrics
from bench.paths import cache_dir
from bench.prediction_cache import CorruptPrediction, PredictionCache
from bench.provenance import PLATFORM, SELF_REPORTED, weights_fields
from bench.runner.hooks import HookGuard
from bench.runner.plan import RunPlan
from bench.runner.reporting import Reporter
from bench.runner.sealing import SealedCases, SealedSplit, new_salt
from bench.scoring import Scored, SplitPredictions, score_protocols
from bench.store import Run, Store
from bench.store.owners import utcnow
from bench.weights.ledger import WeightsLedger


@dataclass(frozen=True)
class Scorable:
    """What scoring needs of a test case besides its prediction: dataset id, label, truth (bool, H x W)."""

    id: str
    label: int
    truth: np.ndarray


STAGES = ("prepare", "fit", "calibrate", "predict_valid", "predict_test", "finalize", "complete", "score")


class Execution:
    """One claimed run of one plan; :meth:`run` executes :data:`STAGES` in order."""

    def __init__(self, plan: RunPlan, store: Store, run: Run, owner: str, reporter: Reporter, ledger: WeightsLedger):
        self.plan, self.store, self.run, self.owner, self.reporter, self.ledger = (
            plan,
            store,
            run,
            owner,
            reporter,
            ledger,
        )
        self.name = plan.name
        self.guard = HookGuard(self.name)
        self.cache = PredictionCache(plan.key, plan.request.predictions)
        self.detector: Detector | None = None
        self.work_dir = None
        self.position = {ref.id: i for i, ref in enumerate(plan.test_refs)}
        self.done: dict[str, tuple[int, np.ndarray, Prediction]] = {}  # dataset id -> label, truth, prediction
        self.resumed = 0
        self.predicted = 0
        self.todo: SealedSplit | None = None
        self.valid: list[LabelledCase] | None = None
        self.valid_predictions: SplitPredictions | None = None
        self.to_score = list(plan.protocols)
        self.finalize_needed = False
        self.needs_valid = False
        self.active = False
        self.pending: list[tuple[Scorable, Case, Prediction, float]] = []  # awaiting finalize
        self.recorded = False  # weights provenance recorded in this execution
        self.results: list[Scored] = []
        self.pixels = MapMetrics(background=True)

    # -- driving ---------------------------------------------------------------------------

    def execute(self) -> None:
        with self.guard:
            try:
                for stage in STAGES:
                    getattr(self, stage)()
            finally:
                self.close()

    def close(self) -> None:
        self.pixels.close()
        try:
            if self.detector is not None:
                self.guard.call("close", self.detector.close)
        except BenchError as exc:
            self.reporter.log(f"{self.name}: {exc}")
        finally:
            if self.work_dir is not None:
                shutil.rmtree(self.work_dir, ignore_errors=True)

    @property
    def kept(self) -> int:
        """Test predictions stored for this run so far."""
        return self.resumed + (self.predicted if not self.finalize_needed else 0)

    # -- stages ----------------------------------------------------------------------------

    def prepare(self) -> None:
        plan, store, run = self.plan, self.store, self.run
        stored = store.predicted_cases(run.id)
        corrupt = []
        for case_id, row in stored.items():
            if case_id not in self.position:
                continue
            try:
                prediction = self.cache.load(case_id, row.digest)
            except CorruptPrediction as exc:
                self.reporter.log(f"{self.name}: {exc}; discarded, it is predicted again")
                corrupt.append(case_id)
                continue
            self.done[case_id] = (row.label, None, prediction)  # truth read when scoring
        if corrupt:
            store.forget_predictions(run.id, self.owner, corrupt)
            for case_id in corrupt:
                self.cache.discard(case_id)
        salt = run.seal_salt or new_salt()
        if run.seal_salt is None:
            store.update_run(run.id, self.owner, seal_salt=salt)
            run.seal_salt = salt
        detector = self._build_detector()
        self.finalize_needed = self.guard.call("needs_finalize", detector.needs_finalize)
        if self.finalize_needed and 0 < len(self.done) < len(plan.test_refs):
            # A transductive detector needs every test case in one pass.
            store.forget_predictions(run.id, self.owner)
            self.done.clear()
        self.resumed = len(self.done)
        left = {ref.id for ref in plan.test_refs if ref.id not in self.done}
        self.todo = SealedSplit(plan.test_refs, plan.frame, "test", salt).subset(left)
        scored = {e.protocol for e in store.evaluations(run.id, status="complete")}
        self.to_score = [p for p in plan.protocols if p.name not in scored]
        self.needs_valid = any(p.needs_valid for p in self.to_score)
        self.active = bool(len(self.todo) or self.needs_valid)

    def fit(self) -> None:
        if not self.active:
            return
        cls, plan = self.plan.detector_cls, self.plan
        if cls.capabilities.needs_fit:
            train = [r for r in plan.dataset.cases("train") if r.label == 0]
            if not train:
                raise ConfigError(f"dataset {plan.dataset.name} has no normal training cases to fit {cls.name}")
            self.reporter.phase(f"{cls.name}: fit on {len(train)} normal cases", None)
            start = time.perf_counter()
            self.guard.call("fit", self.detector.fit, SealedCases(train, plan.frame))
            self.store.update_run(self.run.id, self.owner, fit_seconds=time.perf_counter() - start)

    def calibrate(self) -> None:
        uses = self.plan.detector_cls.capabilities.uses_validation
        if not self.active or not (uses or self.needs_valid):
            return
        split = SealedSplit(self.plan.dataset.cases("valid"), self.plan.frame, "valid", self.run.seal_salt)
        # Decoded once when calibration and a threshold protocol both read the validation split.
        self.valid = [split.labelled(i).relabelled(split.ids[i]) for i in range(len(split))]
        if uses:
            self.guard.call("calibrate", self.detector.calibrate, self.valid)

    def predict_valid(self) -> None:
        if not (self.active and self.needs_valid):
            return
        cases = self.valid or []
        self.reporter.phase(f"{self.name}: predict {len(cases)} validation cases", len(cases))
        predictions = [p for p, _ in self._predict([c.sealed() for c in cases])]
        self.valid_predictions = SplitPredictions.from_cases(cases, predictions)

    def predict_test(self) -> None:
        todo = self.todo
        if todo is None or not len(todo):
            return
        batch_size = self.plan.request.batch_size
        self.reporter.phase(f"{self.name}: predict {len(todo)} test cases ({self.resumed} resumed)", len(todo))
        for start in range(0, len(todo), batch_size):
            labelled = [todo.labelled(i) for i in range(start, min(start + batch_size, len(todo)))]
            sealed = [case.sealed(todo.ids[start + j]) for j, case in enumerate(labelled)]
            timed = self._predict(sealed, advance=False)
            truths = [Scorable(c.id, c.label, c.truth()) for c in labelled]
            if self.finalize_needed:
                self.pending += [(t, s, p, sec) for t, s, (p, sec) in zip(truths, sealed, timed, strict=True)]
            else:
                self._store_batch([(t, p, sec) for t, (p, sec) in zip(truths, timed, strict=True)])
            self.reporter.advance(len(labelled))

    def finalize(self) -> None:
        if not self.pending:
            return
        self.reporter.phase(f"{self.name}: finalize {len(self.pending)} test cases (transductive)", None)
        sealed = [s for _, s, _, _ in self.pending]
        raw = [p for _, _, p, _ in self.pending]
        final = self.guard.call("finalize", self.detector.finalize, sealed, raw)
        if not isinstance(final, list | tuple) or len(final) != len(raw):
            got = len(final) if isinstance(final, list | tuple) else type(final).__name__
            raise ContractViolation(f"detector `{self.name}`: finalize() returned {got} predictions for {len(raw)}")
        checked = [validate_prediction(self.name, s, p) for s, p in zip(sealed, final, strict=True)]
        self.store.update_run(self.run.id, self.owner, transductive=True)
        self._store_batch([(t, p, sec) for (t, _, _, sec), p in zip(self.pending, checked, strict=True)])
        self.pending = []

    def complete(self) -> None:
        if len(self.done) != len(self.plan.test_refs):
            missing = len(self.plan.test_refs) - len(self.done)
            raise BenchError(f"run {self.run.id}: {missing} test case(s) have no prediction after predicting")
        if self.active:
            self._record_weights()
        if self.run.status == "complete" and not self.predicted:
            return
        fields: dict = {"status": "complete", "finished_at": utcnow(), "error": None}
        if self.detector is not None and self.active:
            info = self.guard.call("run_info", self.detector.run_info)
            fields["run_info_json"] = json.dumps({"declared": asdict(info)}, sort_keys=True, default=str)
        if self.predicted:
            fields["transductive"] = bool(self.finalize_needed)
        self.store.update_run(self.run.id, self.owner, **fields)
        self.run.status = "complete"

    def score(self) -> None:
        if not self.to_score:
            return
        self.reporter.phase(f"{self.name}: score {len(self.to_score)} protocol(s)", None)
        test = self._test_split()
        self.results = score_protocols(self.name, self.to_score, test, self.valid_predictions, self.pixels)
        for scored in self.results:
            if scored.error is not None:
                self.store.save_evaluation(self.run.id, self.owner, protocol=scored.protocol.name, error=scored.error)
                continue
            self.store.save_evaluation(
                self.run.id,
                self.owner,
                protocol=scored.protocol.name,
                threshold=scored.fit.value,
                fitted_on=scored.fit.fitted_on,
                upper_bound=scored.fit.upper_bound,
                cases=scored.cases,
                summary=scored.summary,
            )

    # -- helpers ---------------------------------------------------------------------------

    def _build_detector(self) -> Detector:
        plan = self.plan
        work = cache_dir() / "work" / new_salt()[:16]
        work.mkdir(parents=True)
        self.work_dir = work
        context = DetectorContext(
            device=plan.device,
            seed=plan.request.seed,
            work_dir=work,
            batch_size=plan.request.batch_size,
            on_progress=self.reporter.step,
        )
        self.detector = self.guard.call("__init__", plan.detector_cls, plan.config, context)
        return self.detector

    def _predict(self, cases: Sequence[Case], advance: bool = True) -> list[tuple[Prediction, float]]:
        """Predict in batches; each case's time is its batch's time divided evenly."""
        out: list[tuple[Prediction, float]] = []
        batch_size = self.plan.request.batch_size
        for start in range(0, len(cases), batch_size):
            batch = list(cases[start : start + batch_size])
            t0 = time.perf_counter()
            predictions = self.guard.call("predict", self.detector.predict, batch)
            seconds = (time.perf_counter() - t0) / max(len(batch), 1)
            if not isinstance(predictions, list | tuple) or len(predictions) != len(batch):
                got = len(predictions) if isinstance(predictions, list | tuple) else type(predictions).__name__
                raise ContractViolation(
                    f"detector `{self.name}`: predict() returned {got} predictions for {len(batch)} cases"
                )
            out += [(validate_prediction(self.name, c, p), seconds) for c, p in zip(batch, predictions, strict=True)]
            if advance:
                self.reporter.advance(len(batch))
        return out

    def _store_batch(self, items: list[tuple[Scorable, Prediction, float]]) -> None:
        """Cache and record predictions of the test split: one transaction, the resume point."""
        if not self.recorded:
            self._record_weights()  # before the first rows: what made them is known whatever happens next
        rows = []
        for case, prediction, seconds in items:
            digest = self.cache.save(case.id, prediction)
            truth = case.truth
            self.done[case.id] = (case.label, truth, prediction)
            self.pixels.add(prediction.anomaly_map, truth, case.label, prediction.score, self.position[case.id])
            rows.append(
                {
                    "case_id": case.id,
                    "label": case.label,
                    "score": prediction.score,
                    "seconds": seconds,
                    "digest": digest,
                }
            )
        self.store.add_predictions(self.run.id, self.owner, rows)
        self.predicted += len(items)

    def _record_weights(self) -> None:
        """Weights provenance from the ledger (what was loaded), checked against what earlier predictions used."""
        uses = bool(self.guard.call("uses_pretrained_weights", self.detector.uses_pretrained_weights))
        observed = weights_fields([(f.name, f.sha256) for f in self.ledger.files], uses)
        observed["weights_files_json"] = json.dumps(observed.pop("weights_files"), sort_keys=True)
        run = self.run
        earlier = self.resumed and run.provenance == PLATFORM and run.random_init is not None
        if earlier:
            stored = {"weights": run.weights, "weights_sha256": run.weights_sha256, "random_init": run.random_init}
            if stored != {k: observed[k] for k in stored}:
                raise BenchError(
                    f"run {run.id}: its {self.resumed} stored predictions were made with weights "
                    f"{stored['weights']} ({stored['weights_sha256'] or 'no digest'}), but this process loaded "
                    f"{observed['weights']} ({observed['weights_sha256'] or 'no digest'}); a run never mixes "
                    "weights: restore the file it began with to resume it"
                )
        provenance = SELF_REPORTED if (self.resumed and run.provenance == SELF_REPORTED) else PLATFORM
        self.store.update_run(run.id, self.owner, provenance=provenance, **observed)
        for key, value in {**observed, "provenance": provenance}.items():
            setattr(run, key, value)
        self.recorded = True

    def _test_split(self) -> SplitPredictions:
        """Every test case's label, truth and prediction in dataset order; truths of resumed cases read here."""
        labels, truths, predictions = [], [], []
        for i, ref in enumerate(self.plan.test_refs):
            label, truth, prediction = self.done[ref.id]
            if truth is None:
                case = self.plan.frame.apply(ref.load())
                label, truth = case.label, case.truth()
                self.pixels.add(prediction.anomaly_map, truth, label, prediction.score, i)
            labels.append(label)
            truths.append(truth)
            predictions.append(prediction)
        ids = [r.id for r in self.plan.test_refs]
        return SplitPredictions(ids=ids, labels=labels, truths=truths, predictions=predictions)
