"""The plugin SDK: everything a detector plugin may import from mias-bench.

A plugin (first-party or outside) imports mias-bench only from here or from
the top-level ``bench`` package. Everything else under ``bench`` is private
and may change in any release; an import-linter contract in the lint step
keeps the first-party plugins on this side of the line.

Stability: the names below follow :data:`API_VERSION`. Within one major API
version they keep their meaning and signature (new optional arguments and new
names may be added); a breaking change raises ``API_VERSION``, and the
plugin loader then refuses plugins written for the old one with a message.
"""

from __future__ import annotations

from bench.batching import batched
from bench.contract import (
    ANOMALOUS,
    API_VERSION,
    NORMAL,
    Capabilities,
    Case,
    Detector,
    DetectorConfig,
    DetectorContext,
    LabelledCase,
    Prediction,
    RunInfo,
)
from bench.errors import (
    BenchError,
    ConfigError,
    ContractViolation,
    DatasetError,
    PluginError,
    UnknownNameError,
    WeightsError,
)
from bench.frame import pad_square
from bench.names import suggest
from bench.paths import cache_dir
from bench.weights import (
    RANDOM_INIT,
    Checkpoint,
    LoadedWeights,
    checkpoint_path,
    get_checkpoint,
    load_checkpoint,
    record_weights,
)

__all__ = [
    "ANOMALOUS",
    "API_VERSION",
    "NORMAL",
    "RANDOM_INIT",
    "BenchError",
    "Capabilities",
    "Case",
    "Checkpoint",
    "ConfigError",
    "ContractViolation",
    "DatasetError",
    "Detector",
    "DetectorConfig",
    "DetectorContext",
    "LabelledCase",
    "LoadedWeights",
    "PluginError",
    "Prediction",
    "RunInfo",
    "UnknownNameError",
    "WeightsError",
    "batched",
    "cache_dir",
    "checkpoint_path",
    "get_checkpoint",
    "load_checkpoint",
    "record_weights",
    "pad_square",
    "suggest",
]
