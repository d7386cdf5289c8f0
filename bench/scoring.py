"""Score one run's predictions under threshold protocols.

The runner, never the plugin, turns maps into masks: ``mask`` uses the
detector's own mask; every other protocol fits a threshold (``map >= t``).
Honest protocols are fitted first; the oracle then searches every distinct
map value plus their thresholds, so its DICE is never below theirs on the same
predictions. A protocol that cannot be fitted (e.g. ``valid-f1`` on a dataset
without anomalous validation pixels) comes back with its ``error`` and no rows;
the others are scored as usual.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bench.contract import ANOMALOUS, LabelledCase, Prediction
from bench.errors import ThresholdError
from bench.metrics import MapMetrics, MaskCounts, dice, map_metrics, mask_metrics_from_counts
from bench.thresholds import ThresholdFit, ThresholdProtocol, apply_threshold, fit_threshold


@dataclass
class Scored:
    """One protocol's scoring of a run: threshold, per-case rows, summary."""

    protocol: ThresholdProtocol
    fit: ThresholdFit | None
    cases: list[dict] = field(default_factory=list)
    summary: dict[str, float] = field(default_factory=dict)
    error: str | None = None


@dataclass
class SplitPredictions:
    """Predictions of one split with what scoring needs of the cases."""

    ids: list[str]
    labels: list[int]
    truths: list[np.ndarray]
    predictions: list[Prediction]

    @classmethod
    def from_cases(cls, cases: list[LabelledCase], predictions: list[Prediction]) -> SplitPredictions:
        return cls(
            ids=[c.id for c in cases],
            labels=[c.label for c in cases],
            truths=[c.truth() for c in cases],
            predictions=predictions,
        )

    @property
    def maps(self) -> list[np.ndarray]:
        return [p.anomaly_map for p in self.predictions]


def score_protocols(
    detector: str,
    protocols: list[ThresholdProtocol],
    test: SplitPredictions,
    valid: SplitPredictions | None,
    pixels: MapMetrics | None = None,
) -> list[Scored]:
    """Score ``test`` under every protocol (honest ones first, oracle last).

    Args:
        pixels: the threshold-free metrics already fed with every test case
            (the runner feeds it while predicting); computed from ``test``
            when not given.
    """
    ordered = sorted(protocols, key=lambda p: not p.honest)
    fitted: list[float] = []
    results: dict[str, Scored] = {}
    # The threshold-free metrics sort every normal test pixel; numpy releases the GIL
    # while sorting and searching, so that runs on a second core while thresholds are fitted.
    with ThreadPoolExecutor(max_workers=1) as pool:
        if pixels is None:
            scores = [p.score for p in test.predictions]
            pending = pool.submit(map_metrics, test.maps, test.truths, test.labels, scores)
        else:
            pending = pool.submit(pixels.result)
        for protocol in ordered:
            try:
                fit = _fit(detector, protocol, test, valid, fitted)
            except ThresholdError as exc:
                results[protocol.name] = Scored(protocol=protocol, fit=None, error=str(exc))
                continue
            if fit.value is not None and protocol.honest:
                fitted.append(fit.value)
            rows, summary = _score_masks(protocol, fit, test)
            results[protocol.name] = Scored(protocol=protocol, fit=fit, cases=rows, summary=summary)
        shared = pending.result()
    for scored in results.values():
        if scored.error is None:
            scored.summary = {**scored.summary, **shared}
    return [results[p.name] for p in protocols]


def _fit(
    detector: str,
    protocol: ThresholdProtocol,
    test: SplitPredictions,
    valid: SplitPredictions | None,
    extra: list[float],
) -> ThresholdFit:
    if protocol.kind == "mask":
        if any(p.mask is None for p in test.predictions):
            raise ThresholdError(
                f"detector `{detector}` outputs no mask, so protocol 'mask' does not apply; "
                "use fixed:T, valid-f1, normal-pXX or oracle"
            )
        return fit_threshold(
            protocol,
            valid_maps=[],
            valid_truths=[],
            valid_labels=[],
            test_maps=[],
            test_truths=[],
            test_labels=[],
        )
    if protocol.needs_valid and (valid is None or not valid.ids):
        raise ThresholdError(f"protocol {protocol.name!r} needs a validation split, and this dataset has none")
    return fit_threshold(
        protocol,
        valid_maps=valid.maps if valid else [],
        valid_truths=valid.truths if valid else [],
        valid_labels=valid.labels if valid else [],
        test_maps=test.maps,
        test_truths=test.truths,
        test_labels=test.labels,
        extra_candidates=tuple(extra),
    )


def _score_masks(protocol: ThresholdProtocol, fit: ThresholdFit, test: SplitPredictions) -> tuple[list[dict], dict]:
    """Per-case rows and the mask-dependent summary under one protocol."""
    counts: list[MaskCounts] = []
    rows: list[dict] = []
    extras_by_name: dict[str, list[float]] = {}
    for case_id, label, truth, pred in zip(test.ids, test.labels, test.truths, test.predictions, strict=True):
        if protocol.kind == "mask":
            mask = pred.mask
            extras = {f"dice_{name}": dice(m, truth) for name, m in sorted(pred.extra_masks.items())}
        else:
            mask = apply_threshold(pred.anomaly_map, fit.value)
            extras = {}
        case = MaskCounts.of(mask, truth)
        counts.append(case)
        if label == ANOMALOUS:
            for key, value in extras.items():
                extras_by_name.setdefault(key, []).append(value)
        rows.append(
            {
                "case_id": case_id,
                "label": label,
                "dice": case.dice,
                "pred_fraction": case.predicted / case.pixels if case.pixels else 0.0,
                "counts": case,
                "extras": extras,
            }
        )
    summary = mask_metrics_from_counts(counts, test.labels)
    for key, value in extras_by_name.items():
        summary[key] = float(np.mean(value))
    return rows, summary
