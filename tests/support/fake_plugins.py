"""Detectors that misbehave on purpose, registered through a fake distribution.

Tests put this folder and a generated ``*.dist-info`` on the path, so the
entry points below are discovered exactly like an installed package's.
"""

from __future__ import annotations

import os
import time
import types

import numpy as np

from bench import Capabilities, Detector, DetectorConfig, Prediction
from bench.sdk import Checkpoint
from bench_intensity_zscore import IntensityZScore


class NanMaps(Detector):
    name = "nan-maps"
    capabilities = Capabilities(outputs_mask=False, needs_fit=False)

    def predict(self, cases):
        return [Prediction(anomaly_map=np.full(c.shape, np.nan, np.float32), score=0.0) for c in cases]


class WrongShape(Detector):
    name = "wrong-shape"
    capabilities = Capabilities(outputs_mask=False, needs_fit=False)

    def predict(self, cases):
        return [Prediction(anomaly_map=np.zeros((7, 7), np.float32), score=0.0) for _ in cases]


class ExplodeConfig(DetectorConfig):
    after: int = 3


class Exploding(Detector):
    """Raises after ``after`` predicted cases."""

    name = "exploding"
    Config = ExplodeConfig
    capabilities = Capabilities(outputs_mask=False, needs_fit=False)
    seen = 0

    def predict(self, cases):
        self.seen += len(cases)
        if self.seen > self.config.after:
            raise RuntimeError("GPU fell off the bus")
        return [Prediction(anomaly_map=c.image.copy(), score=float(c.image.max())) for c in cases]


class SlowZScore(IntensityZScore):
    """intensity-zscore, slowed down so a test can kill it halfway."""

    name = "slow-zscore"

    def predict(self, cases):
        time.sleep(float(os.environ.get("SLOW_ZSCORE_SECONDS", "0.3")) * len(cases))
        return super().predict(cases)


class NotADetector:
    name = "not-a-detector"


class OldApi(NanMaps):
    name = "old-api"
    api_version = 0


class TransductiveZScore(IntensityZScore):
    """intensity-zscore whose finalize() rescales every map by the test set's own maximum (transductive).

    It claims in run_info() that it used no test statistics; the platform must mark it anyway.
    """

    name = "transductive-zscore"

    def finalize(self, cases, predictions):
        top = max(float(p.anomaly_map.max()) for p in predictions) or 1.0
        return [Prediction(anomaly_map=p.anomaly_map / top, score=p.score / top) for p in predictions]

    def run_info(self):
        from bench import RunInfo

        return RunInfo(weights="imagenet-resnet", weights_sha256="0" * 64, transductive=False)


class UntrainedZScore(IntensityZScore):
    """Declares it needs pretrained weights, loads none, and claims in run_info() it used some."""

    name = "untrained-zscore"
    capabilities = Capabilities(outputs_mask=False, needs_fit=True, needs_weights=True)

    def run_info(self):
        from bench import RunInfo

        return RunInfo(weights="imagenet-resnet", weights_sha256="f" * 64)


class LoadsWeights(IntensityZScore):
    """Needs weights and reports the file it reads (``LOADS_WEIGHTS_FILE``) to the platform."""

    name = "loads-weights"
    capabilities = Capabilities(outputs_mask=False, needs_fit=True, needs_weights=True)

    def fit(self, normal_cases):
        from bench.sdk import record_weights

        record_weights(os.environ["LOADS_WEIGHTS_FILE"], "toy-backbone")
        super().fit(normal_cases)


class CheatingConfig(DetectorConfig):
    how: str = "case"
    first: int = 5  # for how=order: the cases seen first are taken as the anomalous ones (sorted ids put them first)


class Cheating(Detector):
    """Tries every way it can find to read the test truth from what it is handed; maps what it finds.

    ``how``: ``case`` (attributes of the case), ``id`` (the case id names its folder), ``order`` (the
    position in the split), ``objects`` (anything reachable from the case, the sequence or the context).
    """

    name = "cheating"
    Config = CheatingConfig
    capabilities = Capabilities(outputs_mask=False, needs_fit=False)

    def predict(self, cases):
        out = []
        for case in cases:
            index = self.__dict__.setdefault("_seen", {}).setdefault(case.split, 0)
            self._seen[case.split] += 1
            found = _truth_from(case, self.config, index, cases, self.context)
            amap = found.astype(np.float32) if found is not None else np.zeros(case.shape, np.float32)
            out.append(Prediction(anomaly_map=amap, score=float(amap.mean())))
        return out


def _truth_from(case, config, index, cases, context):
    """The lesion mask, if anything handed over leads to it; else None."""
    how = config.how
    if how == "case":
        for name in ("mask", "truth", "label", "_mask"):
            value = getattr(case, name, None)
            value = value() if callable(value) else value
            if isinstance(value, np.ndarray) and value.dtype == bool:
                return value
            if isinstance(value, int) and value == 1:
                return np.ones(case.shape, bool)
        return None
    if how == "id":
        return np.ones(case.shape, bool) if "ungood" in case.id.lower() else None
    if how == "order":
        return np.ones(case.shape, bool) if index < config.first else None
    if how == "objects":
        # Everything reachable through attributes of what was handed over (the interpreter's global
        # state - modules, classes, gc - is out of scope: no in-process seal can cover it).
        seen, stack = set(), [case, cases, context]
        while stack:
            obj = stack.pop()
            if id(obj) in seen or len(seen) > 5000 or isinstance(obj, types.ModuleType | type):
                continue
            seen.add(id(obj))
            mask = getattr(obj, "mask", None)
            if isinstance(mask, np.ndarray) and mask.dtype == bool and mask.shape == case.shape and mask.any():
                return mask
            for name in dir(obj):
                if name.startswith("__"):
                    continue
                try:
                    value = getattr(obj, name)
                except Exception:
                    continue
                if not callable(value) and not isinstance(value, str | bytes | int | float | np.ndarray):
                    stack.append(value)
            if isinstance(obj, list | tuple):
                stack.extend(obj)
        return None
    raise ValueError(how)


class BlocksAfter(IntensityZScore):
    """intensity-zscore that, once ``BLOCK_AFTER`` test cases were predicted, writes ``BLOCK_MARKER`` and hangs.

    Only while ``BLOCK_MARKER`` is set, so the same run (same config) completes when it is not:
    a test kills the process at a known point instead of racing a sleep.
    """

    name = "blocks-after"

    def predict(self, cases):
        done = getattr(self, "_done", 0)
        test = [c for c in cases if c.split == "test"]
        marker = os.environ.get("BLOCK_MARKER")
        if marker and test and done >= int(os.environ.get("BLOCK_AFTER", "4")):
            from pathlib import Path

            Path(marker).write_text(str(done))
            while True:
                time.sleep(1)
        self._done = done + len(test)
        return super().predict(cases)


class BlocksAfterTransductive(BlocksAfter):
    """:class:`BlocksAfter` that is transductive (a finalize pass) and meant for weights it never loads."""

    name = "blocks-after-transductive"
    capabilities = Capabilities(outputs_mask=False, needs_fit=True, needs_weights=True)

    def finalize(self, cases, predictions):
        return TransductiveZScore.finalize(self, cases, predictions)


class ExitsInPredict(IntensityZScore):
    """Calls sys.exit in predict()."""

    name = "exits-in-predict"

    def predict(self, cases):
        import sys

        sys.exit(3)


class InterruptsItself(IntensityZScore):
    """Raises KeyboardInterrupt in predict() although nobody pressed Ctrl-C."""

    name = "interrupts-itself"

    def predict(self, cases):
        raise KeyboardInterrupt


class BadCheckpoints(NanMaps):
    """Declares a checkpoint whose file would replace the weights cache's own bookkeeping."""

    name = "bad-checkpoints"
    checkpoints = (Checkpoint(name="sneaky", file="registry.json"),)
