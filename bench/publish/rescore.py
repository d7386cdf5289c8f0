"""Re-scoring a publication from the predictions themselves (``verify --db STORE --rescore``).

A store edited consistently with a published file would pass every check
that compares the two. Re-scoring goes under both: each run's cached
predictions (checked against the SHA-256 the store recorded when they were
made) and the dataset's own truths (checked against the run's manifest) are
scored again, and every per-case value, the threshold where the predictions
determine it (``fixed:T``, ``oracle``, ``mask``) and every threshold-free
metric (pixel AUROC, AUPRO, image AUROC) must come out as published.
Thresholds fitted on the validation split are taken as stored: validation
maps are not cached.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.contract import Prediction
from bench.datasets.registry import open_dataset
from bench.errors import BenchError
from bench.frame import get_frame
from bench.metrics import MapMetrics, MaskCounts
from bench.prediction_cache import PredictionCache
from bench.publish.board import PublishedRow
from bench.publish.recompute import same_number
from bench.store import Run, Store
from bench.thresholds import apply_threshold, fit_threshold, parse_protocol


@dataclass
class _Scored:
    """A run's test split as the predictions give it: per case id, the label, truth and prediction."""

    labels: dict[str, int]
    truths: dict[str, np.ndarray]
    predictions: dict[str, Prediction]
    map_metrics: dict[str, float]


class Rescorer:
    """Re-scores published rows from the store's runs; loads each run's predictions once."""

    def __init__(self, store: Store):
        self.store = store
        self._runs: dict[int, _Scored | str] = {}

    def problems(self, published: PublishedRow) -> list[str]:
        scored = self._run(published.row.run_id)
        if isinstance(scored, str):
            return [f"rescore: {scored}"]
        row = published.row
        problems = []
        threshold = row.threshold
        protocol = parse_protocol(row.protocol)
        if protocol.kind == "fixed" and not same_number(threshold, protocol.parameter):
            problems.append(
                f"rescore: threshold {threshold!r}, protocol {row.protocol} fixes it at {protocol.parameter}"
            )
        if protocol.kind == "oracle":
            ids = sorted(scored.labels)
            fit = fit_threshold(
                protocol,
                test_maps=[scored.predictions[i].anomaly_map for i in ids],
                test_truths=[scored.truths[i] for i in ids],
                test_labels=[scored.labels[i] for i in ids],
            )
            if not same_number(fit.value, threshold):
                problems.append(
                    f"rescore: the oracle threshold of these predictions is {fit.value!r}, not {threshold!r}"
                )
        for case in published.cases:
            prediction = scored.predictions.get(case.case_id)
            if prediction is None:
                problems.append(f"rescore: case {case.case_id} has no stored prediction")
                continue
            truth = scored.truths[case.case_id]
            mask = prediction.mask if protocol.kind == "mask" else apply_threshold(prediction.anomaly_map, threshold)
            if mask is None:
                problems.append(f"rescore: case {case.case_id} has no mask of its own under protocol mask")
                continue
            counts = MaskCounts.of(mask, truth)
            mine = (case.intersection, case.predicted, case.truth_pixels, case.pixels)
            if None not in mine and mine != (counts.intersection, counts.predicted, counts.true, counts.pixels):
                problems.append(f"rescore: case {case.case_id} counts {mine}, its prediction gives {counts}")
            if not same_number(case.dice, counts.dice):
                problems.append(
                    f"rescore: case {case.case_id} dice {case.dice!r}, its prediction gives {counts.dice!r}"
                )
            if case.label != scored.labels[case.case_id]:
                problems.append(f"rescore: case {case.case_id} label {case.label}, the dataset says otherwise")
            if case.score is not None and not same_number(case.score, prediction.score):
                problems.append(
                    f"rescore: case {case.case_id} score {case.score!r}, its prediction {prediction.score!r}"
                )
        for name, value in scored.map_metrics.items():
            if not same_number(row.metrics.get(name), value):
                problems.append(f"rescore: metrics.{name} {row.metrics.get(name)!r}, the predictions give {value!r}")
        return problems

    def _run(self, run_id: int) -> _Scored | str:
        if run_id not in self._runs:
            try:
                self._runs[run_id] = self._load(run_id)
            except (BenchError, OSError, ValueError) as exc:
                self._runs[run_id] = f"run {run_id} cannot be re-scored here: {exc}"
        return self._runs[run_id]

    def _load(self, run_id: int) -> _Scored:
        run: Run | None = self.store.get_run(run_id)
        if run is None:
            raise BenchError("it is not in the store")
        dataset = open_dataset(run.dataset, run.data_location)
        if dataset.manifest_hash() != run.manifest_hash:
            raise BenchError(f"the data at {run.data_location} no longer matches manifest {run.manifest_hash[:12]}")
        cache = PredictionCache(run.run_key)
        stored = self.store.predicted_cases(run.id)
        frame = get_frame(run.frame)
        labels, truths, predictions = {}, {}, {}
        with MapMetrics() as pixels:
            for position, ref in enumerate(dataset.cases("test")):
                if ref.id not in stored:
                    raise BenchError(f"case {ref.id} has no stored prediction")
                prediction = cache.load(ref.id, stored[ref.id].digest)
                case = frame.apply(ref.load())
                labels[ref.id], truths[ref.id], predictions[ref.id] = case.label, case.truth(), prediction
                pixels.add(prediction.anomaly_map, case.truth(), case.label, prediction.score, position)
            map_metrics = pixels.result()
        return _Scored(labels, truths, predictions, map_metrics)
