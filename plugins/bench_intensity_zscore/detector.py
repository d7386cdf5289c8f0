"""A per-pixel Gaussian model of normal intensities; the map is the absolute z-score.

The classic baseline for roughly aligned slices: every training image is
resized to a common grid, each grid pixel gets the mean and standard
deviation of its normal intensities, and a test pixel's anomaly is how many
standard deviations it lies from that mean. Needs no weights and runs in
seconds, so the platform always has one honest method to run end to end.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image
from pydantic import Field

from bench.sdk import Capabilities, Case, ConfigError, Detector, DetectorConfig, Prediction, RunInfo


class IntensityZScoreConfig(DetectorConfig):
    grid: int = Field(128, ge=8, le=1024, description="side of the common grid the statistics live on (pixels)")
    # Intensities lie in [0, 1], so no std exceeds 1; a sigma beyond the largest grid blurs to a constant.
    min_std: float = Field(
        0.02, gt=0, le=1, description="floor on the per-pixel standard deviation (intensity units, (0, 1])"
    )
    stats_sigma: float = Field(1.0, ge=0, le=64, description="Gaussian smoothing of mean and std maps (grid pixels)")
    map_sigma: float = Field(2.0, ge=0, le=64, description="Gaussian smoothing of each z-score map (grid pixels)")


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 H x W -> float32 shape (rows, cols), PIL bilinear."""
    if image.shape == shape:
        return image.astype(np.float32, copy=False)
    pil = Image.fromarray(np.asarray(image, dtype=np.float32), mode="F")
    return np.asarray(pil.resize((shape[1], shape[0]), Image.BILINEAR), dtype=np.float32)


class IntensityZScore(Detector):
    """Anomaly map = |image - mean| / std, per pixel of a common grid."""

    name = "intensity-zscore"
    version = "1.0"
    Config = IntensityZScoreConfig
    capabilities = Capabilities(outputs_mask=False, needs_fit=True, modalities=("*",), needs_weights=False)
    description = "Per-pixel Gaussian of normal training intensities; anomaly map = |z-score|."

    _mean: np.ndarray | None = None
    _std: np.ndarray | None = None

    def fit(self, normal_cases: Sequence[Case]) -> None:
        from scipy.ndimage import gaussian_filter

        cfg: IntensityZScoreConfig = self.config  # type: ignore[assignment]
        grid = (cfg.grid, cfg.grid)
        count = 0
        total = np.zeros(grid, dtype=np.float64)
        total_sq = np.zeros(grid, dtype=np.float64)
        for case in normal_cases:
            x = _resize(case.image, grid).astype(np.float64)
            total += x
            total_sq += x * x
            count += 1
        if count < 2:
            raise ConfigError(f"intensity-zscore needs at least 2 normal training cases, got {count}")
        mean = total / count
        var = np.maximum(total_sq / count - mean * mean, 0.0) * count / (count - 1)
        std = np.sqrt(var)
        if cfg.stats_sigma > 0:
            mean = gaussian_filter(mean, cfg.stats_sigma)
            std = gaussian_filter(std, cfg.stats_sigma)
        self._mean = mean.astype(np.float32)
        self._std = np.maximum(std, cfg.min_std).astype(np.float32)

    def predict(self, cases: Sequence[Case]) -> list[Prediction]:
        from scipy.ndimage import gaussian_filter

        if self._mean is None or self._std is None:
            raise ConfigError("intensity-zscore: call fit(normal_cases) before predict()")
        cfg: IntensityZScoreConfig = self.config  # type: ignore[assignment]
        out = []
        for case in cases:
            x = _resize(case.image, self._mean.shape)
            z = np.abs(x - self._mean) / self._std
            if cfg.map_sigma > 0:
                z = gaussian_filter(z, cfg.map_sigma)
            amap = _resize(z, case.shape)
            out.append(Prediction(anomaly_map=amap, score=float(z.max())))
        return out

    def run_info(self) -> RunInfo:
        return RunInfo(weights=None, device="cpu")
