"""The ``recontrast`` detector: ReContrast run by the anomalib bridge.

The bridge does everything a detector does (preprocessing, seeded quiet
training with progress per epoch, weights from the local cache or
random-init, maps back in each case's frame); this subclass only says which
Lightning module to build.
"""

from __future__ import annotations

from typing import Any, ClassVar

from bench_anomalib import AnomalibDetector
from bench_recontrast.config import ReContrastConfig


class ReContrast(AnomalibDetector):
    """ReContrast (Guo et al., NeurIPS 2023); anomaly map and score, no mask."""

    name = "recontrast"
    version = "1.0"
    Config = ReContrastConfig
    description = "ReContrast (NeurIPS 2023), wide_resnet50_2 (torchvision V1 weights), 1,000 steps; map and score."
    presets = {"bmad": {"input_size": 224}}
    demo_overrides: ClassVar[dict[str, Any]] = {"backbone": "resnet18.tv_in1k", "max_steps": 3}

    def model_class(self) -> type:
        from bench_anomalib.quiet import import_anomalib_models

        import_anomalib_models()  # quietly, before this plugin's modules import anomalib's parts
        from bench_recontrast.lightning_module import ReContrastModule

        return ReContrastModule
