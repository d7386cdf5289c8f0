"""The ``patchcore-wrn50`` and ``patchcore-r18`` detectors: anomalib's PatchCore on the platform's data."""

from bench_patchcore.config import PatchcoreConfig, PatchcoreR18Config, PatchcoreWrn50Config
from bench_patchcore.detector import PatchcoreDetector, PatchcoreR18, PatchcoreWrn50

__all__ = [
    "PatchcoreConfig",
    "PatchcoreDetector",
    "PatchcoreR18",
    "PatchcoreR18Config",
    "PatchcoreWrn50",
    "PatchcoreWrn50Config",
]
