"""The ``mias-sam`` reference detector (MIAS-SAM, BMVC 2025).

Importing this package loads only pydantic, numpy and bench; torch,
segment_anything and faiss load when a model is first used.
"""

from bench_mias_sam.config import PRESETS, RANDOM_INIT, MiasSamConfig
from bench_mias_sam.detector import MiasSam

__all__ = ["PRESETS", "RANDOM_INIT", "MiasSam", "MiasSamConfig"]
