"""The ``intensity-zscore`` baseline detector."""

from bench_intensity_zscore.detector import IntensityZScore, IntensityZScoreConfig

__all__ = ["IntensityZScore", "IntensityZScoreConfig"]
