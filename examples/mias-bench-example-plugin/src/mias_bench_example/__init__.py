"""An example outside plugin: a detector mias-bench has never heard of.

``local-contrast`` scores each pixel by how far it stands from the median of
its neighbourhood, in units of the neighbourhood's spread. It needs no
training and no weights: a template for writing your own detector.

It also shows how a plugin declares a checkpoint of its own: with
``gain=true`` the map is scaled by a gain read from the checkpoint
``local-contrast-gain`` (a state dict ``{"gain": scalar tensor}``). The
declaration makes ``mias-bench weights list`` show it; ``mias-bench weights
add FILE --name local-contrast-gain`` installs a file (there is no published
one, so no address and no digest: the cache records the file's digest when
it is added and checks it on every load).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import Field

from bench.sdk import Capabilities, Case, Checkpoint, Detector, DetectorConfig, Prediction, load_checkpoint

GAIN_CHECKPOINT = Checkpoint(
    name="local-contrast-gain",
    file="local_contrast_gain.pth",
    url=None,
    sha256=None,
    licence="CC0-1.0",
    description="scalar gain for local-contrast maps (example; add your own with `mias-bench weights add`)",
)


class LocalContrastConfig(DetectorConfig):
    window: int = Field(9, ge=3, le=63, description="side of the neighbourhood (pixels, odd)")
    gain: bool = Field(False, description="scale maps by the gain in checkpoint local-contrast-gain")


class LocalContrast(Detector):
    name = "local-contrast"
    version = "0.3.0"
    Config = LocalContrastConfig
    capabilities = Capabilities(outputs_mask=False, needs_fit=False, modalities=("*",))
    description = "Pixel minus its neighbourhood median, over the neighbourhood's spread (no training)."
    checkpoints = (GAIN_CHECKPOINT,)

    def uses_pretrained_weights(self) -> bool:
        return self.config.gain

    def _gain(self) -> float:
        if not self.config.gain:
            return 1.0
        # load_checkpoint checks the file's digest and tells the platform which file was used.
        return float(load_checkpoint(GAIN_CHECKPOINT.name).state_dict["gain"])

    def predict(self, cases: Sequence[Case]) -> list[Prediction]:
        from scipy.ndimage import median_filter, uniform_filter

        size = self.config.window | 1
        gain = self._gain()
        out = []
        for case in cases:
            x = case.image.astype(np.float32)
            med = median_filter(x, size=size)
            spread = np.sqrt(np.maximum(uniform_filter(x * x, size) - uniform_filter(x, size) ** 2, 0)) + 0.02
            amap = (gain * np.abs(x - med) / spread).astype(np.float32)
            out.append(Prediction(anomaly_map=amap, score=float(amap.max())))
        return out
