"""The runner: fit, calibrate, predict, finalize, score, store.

The runner owns the loop, timing, caching and resume; a plugin owns only
its model. A run is identified by (detector, config hash, dataset, manifest
hash, frame, seed): the same request twice is recognised, and a run that
was interrupted resumes from the test cases already stored.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Protocol

import numpy as np

from bench.contract import Case, Detector, DetectorContext, Prediction, validate_prediction
from bench.datasets.base import CaseRef, Dataset
from bench.errors import BenchError, ConfigError, ContractViolation
from bench.frame import Frame, get_frame
from bench.metrics import MapMetrics
from bench.plugins import get_detector_record, resolve_config
from bench.prediction_cache import PredictionCache, run_folder
from bench.provenance import git_commit, package_versions, resolve_device
from bench.scoring import SplitPredictions, score_protocols
from bench.store import Store
from bench.thresholds import ThresholdProtocol, parse_protocols


class Reporter(Protocol):
    """How the runner reports progress; the CLI draws it, the library does not."""

    def phase(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def log(self, message: str) -> None: ...


class SilentReporter:
    def phase(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def log(self, message: str) -> None:
        pass


class RunFailed(BenchError):
    """A detector failed mid-run; the run is stored as failed with this error."""

    def __init__(self, message: str, run_id: int):
        super().__init__(message)
        self.run_id = run_id


@dataclass
class RunRequest:
    detector: str
    dataset: Dataset
    protocols: str | list[ThresholdProtocol] = ""
    preset: str | None = None
    overrides: list[str] = field(default_factory=list)
    seed: int = 0
    frame: str = "paper-256"
    device: str = "auto"
    batch_size: int = 8


@dataclass
class RunResult:
    run_id: int
    run_key: str
    detector: str
    resumed_cases: int
    predicted_cases: int
    evaluations: dict[str, dict[str, float]]
    reused: bool = False


class FramedCases(Sequence[Case]):
    """Cases decoded on access and put into the evaluation frame."""

    def __init__(self, refs: Sequence[CaseRef], frame: Frame):
        self.refs, self.frame = list(refs), frame

    def __len__(self) -> int:
        return len(self.refs)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return FramedCases(self.refs[index], self.frame)
        return self.frame.apply(self.refs[index].load())

    def __iter__(self) -> Iterator[Case]:
        for ref in self.refs:
            yield self.frame.apply(ref.load())


def _default_protocols(detector: type[Detector]) -> list[ThresholdProtocol]:
    return parse_protocols("mask" if detector.capabilities.outputs_mask else "valid-f1")


def run_key(fields: dict) -> str:
    keyed = {k: fields[k] for k in ("detector", "config_hash", "dataset", "manifest_hash", "frame", "seed", "split")}
    return hashlib.sha256(json.dumps(keyed, sort_keys=True).encode()).hexdigest()


def check_request(detector: str, preset: str | None, overrides: list[str], protocols: str, frame: str) -> None:
    """Validate a request's names and values before any data is read or anything stored."""
    cls: type[Detector] = get_detector_record(detector).obj
    resolve_config(cls, preset, overrides)
    parse_protocols(protocols)
    get_frame(frame)


def execute(request: RunRequest, store: Store, reporter: Reporter | None = None) -> RunResult:
    """Run one detector on one dataset's test split and store everything.

    Raises:
        RunFailed: the detector raised or broke the contract; the run is
            stored as failed with the error and nothing else is changed.
        BenchError: bad request (unknown detector, config, protocol, data),
            before anything is stored.
    """
    reporter = reporter or SilentReporter()
    record = get_detector_record(request.detector)
    cls: type[Detector] = record.obj
    config = resolve_config(cls, request.preset, request.overrides)
    protocols = (
        parse_protocols(request.protocols) if isinstance(request.protocols, str) else list(request.protocols)
    ) or _default_protocols(cls)
    dataset = request.dataset
    if not cls.capabilities.supports(dataset.modality):
        raise ConfigError(
            f"detector {cls.name!r} supports modalities {list(cls.capabilities.modalities)}, "
            f"not {dataset.modality!r} ({dataset.name})"
        )
    frame = get_frame(request.frame)
    reporter.log(f"{cls.name}: listing {dataset.name} at {dataset.location()}")
    test_refs = dataset.cases("test")
    if not test_refs:
        raise ConfigError(f"dataset {dataset.name} at {dataset.location()} has no test cases")
    device = resolve_device(request.device)
    fields = {
        "detector": cls.name,
        "detector_version": str(cls.version),
        "plugin_dist": record.distribution,
        "plugin_version": record.version,
        "preset": request.preset,
        "config_json": config.canonical_json(),
        "config_hash": config.config_hash(),
        "dataset": dataset.name,
        "collection": dataset.collection,
        "modality": dataset.modality,
        "data_location": dataset.location(),
        "manifest_hash": dataset.manifest_hash(),
        "frame": frame.name,
        "split": "test",
        "n_cases": len(test_refs),
        "seed": request.seed,
        "device": device,
        "packages_json": json.dumps(
            package_versions((record.distribution,) if record.distribution else ()), sort_keys=True
        ),
        "git_commit": git_commit(),
        "weights": None,
        "weights_sha256": None,
        "transductive": False,
        "run_info_json": "{}",
    }
    fields["run_key"] = key = run_key(fields)
    existing = store.find_run(key)
    cache = PredictionCache(key)
    if existing is not None and existing.status == "complete":
        done = {e.protocol for e in store.evaluations(existing.id)}
        if all(p.name in done for p in protocols):
            reporter.log(f"{cls.name}: already stored as run {existing.id}; nothing to do")
            return RunResult(existing.id, key, cls.name, existing.n_cases, 0, _summaries(store, existing.id), True)
    run = store.start_run(fields)
    try:
        return _execute(cls, config, request, store, reporter, run.id, key, protocols, frame, device, test_refs, cache)
    except BenchError as exc:
        if isinstance(exc, RunFailed):
            raise
        store.finish_run(run.id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise RunFailed(f"run {run.id} ({cls.name}) failed: {exc}", run.id) from exc
    except Exception as exc:
        store.finish_run(run.id, "failed", error=f"{type(exc).__name__}: {exc}")
        raise RunFailed(f"run {run.id} ({cls.name}) failed: {type(exc).__name__}: {exc}", run.id) from exc
    except BaseException:
        store.finish_run(run.id, "failed", error="interrupted")
        raise


def _execute(cls, config, request, store, reporter, run_id, key, protocols, frame, device, test_refs, cache):
    dataset = request.dataset
    work = run_folder(key) / "work"
    work.mkdir(parents=True, exist_ok=True)
    detector = cls(
        config, DetectorContext(device=device, seed=request.seed, work_dir=work, batch_size=request.batch_size)
    )

    stored = store.predicted_cases(run_id)
    missing = [cid for cid in stored if not cache.has(cid)]
    if missing:  # cache cleared since: those cases are predicted again
        store.forget_predictions(run_id, missing)
        for cid in missing:
            stored.pop(cid)
    finalize = detector.needs_finalize()
    if finalize and stored and len(stored) < len(test_refs):
        # A transductive detector needs every test case in one pass.
        store.forget_predictions(run_id)
        stored = {}
    todo = [r for r in test_refs if r.id not in stored]
    needs_valid = any(p.needs_valid for p in protocols)
    valid_refs = dataset.cases("valid") if (needs_valid or cls.capabilities.uses_validation) else []

    valid_preds: SplitPredictions | None = None
    fitted = bool(todo or needs_valid)
    if fitted:
        if cls.capabilities.needs_fit:
            train = FramedCases([r for r in dataset.cases("train") if r.label == 0], frame)
            if len(train) == 0:
                raise ConfigError(f"dataset {dataset.name} has no normal training cases to fit {cls.name}")
            reporter.phase(f"{cls.name}: fit on {len(train)} normal cases", None)
            start = time.perf_counter()
            detector.fit(train)
            store.update_run(run_id, fit_seconds=time.perf_counter() - start)
        # Decoded once when both calibration and a threshold protocol read the validation split.
        valid_cases = list(FramedCases(valid_refs, frame)) if needs_valid else FramedCases(valid_refs, frame)
        if cls.capabilities.uses_validation:
            detector.calibrate(valid_cases)
        if needs_valid:
            reporter.phase(f"{cls.name}: predict {len(valid_cases)} validation cases", len(valid_cases))
            preds = _predict(detector, cls.name, valid_cases, request.batch_size, reporter)
            valid_preds = SplitPredictions.from_cases(valid_cases, preds)

    reporter.phase(f"{cls.name}: predict {len(todo)} test cases ({len(stored)} resumed)", len(todo))
    position = {ref.id: i for i, ref in enumerate(test_refs)}
    fresh: dict[str, tuple[int, np.ndarray, Prediction]] = {}  # predicted now: no reload needed to score
    # Pixel AUROC / AUPRO sort the normal pixels in chunks on a background thread while
    # the remaining cases are predicted, so scoring only finishes what is left.
    with MapMetrics(background=True) as pixels:

        def keep(case: Case, pred: Prediction) -> None:
            truth = case.truth()
            fresh[case.id] = (case.label, truth, pred)
            pixels.add(pred.anomaly_map, truth, case.label, pred.score, position[case.id])

        if finalize and todo:
            cases = FramedCases(todo, frame)
            timed = _predict_timed(detector, cls.name, cases, request.batch_size, reporter)
            preds = detector.finalize(cases, [p for p, _ in timed])
            rows = []
            for case, (pred, seconds) in zip(cases, zip(preds, (s for _, s in timed), strict=True), strict=True):
                pred = validate_prediction(cls.name, case, pred)
                cache.save(case.id, pred)
                keep(case, pred)
                rows.append({"case_id": case.id, "label": case.label, "score": pred.score, "seconds": seconds})
            store.add_predictions(run_id, rows)
        else:
            for start in range(0, len(todo), request.batch_size):
                batch = list(FramedCases(todo[start : start + request.batch_size], frame))
                rows = []
                timed = _predict_timed(detector, cls.name, batch, len(batch))
                for case, (pred, seconds) in zip(batch, timed, strict=True):
                    cache.save(case.id, pred)
                    keep(case, pred)
                    rows.append({"case_id": case.id, "label": case.label, "score": pred.score, "seconds": seconds})
                store.add_predictions(run_id, rows)  # one transaction per batch: the resume point
                reporter.advance(len(batch))

        reporter.phase(f"{cls.name}: score {len(protocols)} protocol(s)", None)
        test = _test_predictions(test_refs, frame, cache, fresh, pixels)
        results = score_protocols(cls.name, protocols, test, valid_preds, pixels)
    for scored in results:
        store.save_evaluation(
            run_id,
            protocol=scored.protocol.name,
            threshold=scored.fit.value,
            fitted_on=scored.fit.fitted_on,
            upper_bound=scored.fit.upper_bound,
            cases=scored.cases,
            summary=scored.summary,
        )
    provenance = {}
    if fitted:  # an unfitted detector (all predictions cached) cannot speak for the weights
        info = detector.run_info()
        provenance = {
            "weights": info.weights,
            "weights_sha256": info.weights_sha256,
            "transductive": info.transductive,
            "device": info.device,
            "run_info_json": json.dumps(asdict(info), sort_keys=True, default=str),
        }
    store.finish_run(run_id, "complete", **provenance)
    return RunResult(run_id, key, cls.name, len(stored), len(todo), _summaries(store, run_id))


def _test_predictions(
    refs: list[CaseRef], frame: Frame, cache: PredictionCache, fresh: dict, pixels: MapMetrics
) -> SplitPredictions:
    """Every test case's label, truth and prediction: from memory when predicted in this call, else from disk.

    Cases read from disk are also fed to ``pixels`` (the fresh ones already were).
    """
    labels, truths, preds = [], [], []
    for i, ref in enumerate(refs):
        if ref.id in fresh:
            label, truth, pred = fresh[ref.id]
        else:
            case = frame.apply(ref.load())
            label, truth, pred = case.label, case.truth(), cache.load(ref.id)
            pixels.add(pred.anomaly_map, truth, label, pred.score, i)
        labels.append(label)
        truths.append(truth)
        preds.append(pred)
    return SplitPredictions(ids=[r.id for r in refs], labels=labels, truths=truths, predictions=preds)


def _predict_timed(
    detector: Detector, name: str, cases: Sequence[Case], batch_size: int, reporter: Reporter | None = None
) -> list[tuple[Prediction, float]]:
    """Predict in batches; each case's time is its batch's time divided evenly."""
    out: list[tuple[Prediction, float]] = []
    cases = list(cases) if not isinstance(cases, list) else cases
    for start in range(0, len(cases), batch_size):
        batch = cases[start : start + batch_size]
        t0 = time.perf_counter()
        preds = detector.predict(batch)
        seconds = (time.perf_counter() - t0) / max(len(batch), 1)
        if not isinstance(preds, list | tuple) or len(preds) != len(batch):
            got = len(preds) if isinstance(preds, list | tuple) else type(preds).__name__
            raise ContractViolation(f"detector `{name}`: predict() returned {got} predictions for {len(batch)} cases")
        for case, pred in zip(batch, preds, strict=True):
            out.append((validate_prediction(name, case, pred), seconds))
        if reporter is not None:
            reporter.advance(len(batch))
    return out


def _predict(detector, name, cases, batch_size, reporter) -> list[Prediction]:
    return [p for p, _ in _predict_timed(detector, name, cases, batch_size, reporter)]


def _summaries(store: Store, run_id: int) -> dict[str, dict[str, float]]:
    return {e.protocol: store.summary(e.id) for e in store.evaluations(run_id)}
