"""mias-bench: benchmark unsupervised anomaly segmentation in medical images."""

from bench.contract import (
    ANOMALOUS,
    API_VERSION,
    NORMAL,
    Capabilities,
    Case,
    Detector,
    DetectorConfig,
    DetectorContext,
    Prediction,
    RunInfo,
)
from bench.errors import BenchError

__version__ = "0.2.0"

__all__ = [
    "ANOMALOUS",
    "API_VERSION",
    "NORMAL",
    "BenchError",
    "Capabilities",
    "Case",
    "Detector",
    "DetectorConfig",
    "DetectorContext",
    "Prediction",
    "RunInfo",
    "__version__",
]
