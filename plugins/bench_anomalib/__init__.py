"""The anomalib bridge (``anomalib``) and the paper's anomalib baselines.

Detectors: ``anomalib`` (any anomalib image model), ``rd4ad``, ``cfa``, ``cflow``, ``supersimplenet``.
"""

from bench_anomalib.baselines import (
    CfaConfig,
    CfaDetector,
    Cflow,
    CflowConfig,
    Rd4ad,
    Rd4adConfig,
    SuperSimpleNet,
    SupersimplenetConfig,
)
from bench_anomalib.config import AnomalibConfig, AnomalibRunConfig
from bench_anomalib.detector import AnomalibDetector

__all__ = [
    "AnomalibConfig",
    "AnomalibDetector",
    "AnomalibRunConfig",
    "CfaConfig",
    "CfaDetector",
    "Cflow",
    "CflowConfig",
    "Rd4ad",
    "Rd4adConfig",
    "SuperSimpleNet",
    "SupersimplenetConfig",
]
