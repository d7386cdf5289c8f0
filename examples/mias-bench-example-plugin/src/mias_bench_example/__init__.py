"""An example outside plugin: a detector mias-bench has never heard of.

``local-contrast`` scores each pixel by how far it stands from the median of
its neighbourhood, in units of the neighbourhood's spread. It needs no
training and no weights: a template for writing your own detector.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from bench import Capabilities, Case, Detector, DetectorConfig, Prediction


class LocalContrastConfig(DetectorConfig):
    window: int = Field(9, ge=3, le=63, description="side of the neighbourhood (pixels, odd)")


class LocalContrast(Detector):
    name = "local-contrast"
    version = "0.2.0"
    Config = LocalContrastConfig
    capabilities = Capabilities(outputs_mask=False, needs_fit=False, modalities=("*",))
    description = "Pixel minus its neighbourhood median, over the neighbourhood's spread (no training)."

    def predict(self, cases: Sequence[Case]) -> list[Prediction]:
        from scipy.ndimage import median_filter, uniform_filter

        size = self.config.window | 1
        out = []
        for case in cases:
            x = case.image.astype(np.float32)
            med = median_filter(x, size=size)
            spread = np.sqrt(np.maximum(uniform_filter(x * x, size) - uniform_filter(x, size) ** 2, 0)) + 0.02
            amap = (np.abs(x - med) / spread).astype(np.float32)
            out.append(Prediction(anomaly_map=amap, score=float(amap.max())))
        return out
