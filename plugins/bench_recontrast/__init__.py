"""The ``recontrast`` detector: ReContrast (Guo et al., NeurIPS 2023) on the anomalib bridge."""

from bench_recontrast.config import ReContrastConfig
from bench_recontrast.detector import ReContrast

__all__ = ["ReContrast", "ReContrastConfig"]
