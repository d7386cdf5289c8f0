"""Detectors that misbehave on purpose, registered through a fake distribution.

Tests put this folder and a generated ``*.dist-info`` on the path, so the
entry points below are discovered exactly like an installed package's.
"""

from __future__ import annotations

import os
import time

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


class BadCheckpoints(NanMaps):
    """Declares a checkpoint whose file would replace the weights cache's own bookkeeping."""

    name = "bad-checkpoints"
    checkpoints = (Checkpoint(name="sneaky", file="registry.json"),)
