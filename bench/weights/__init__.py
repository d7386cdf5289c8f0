"""Model checkpoints: what plugins declare, the cache, fetching, verifying and loading.

The core knows no model: every checkpoint is declared by the plugin that
uses it (``Detector.checkpoints``) or added by a user. Nothing here imports
torch at module level; only :func:`load_checkpoint` does.
"""

from bench.weights.cache import (
    VerifyResult,
    add_checkpoint,
    checkpoint_path,
    installed,
    missing_message,
    require_checkpoint,
    sha256_file,
    verify_checkpoints,
)
from bench.weights.checkpoint import Checkpoint, declaration_problems
from bench.weights.fetch import DownloadProgress, fetch_checkpoint
from bench.weights.ledger import LoadedFile, WeightsLedger, open_ledger, record_weights
from bench.weights.loading import LoadedWeights, load_checkpoint
from bench.weights.registry import declaration_conflicts, declared_checkpoints, get_checkpoint, list_checkpoints

#: The ``weights`` value that builds a network with random weights (tests, smoke runs).
RANDOM_INIT = "random-init"

__all__ = [
    "RANDOM_INIT",
    "Checkpoint",
    "DownloadProgress",
    "LoadedFile",
    "LoadedWeights",
    "WeightsLedger",
    "VerifyResult",
    "add_checkpoint",
    "checkpoint_path",
    "declaration_conflicts",
    "declaration_problems",
    "declared_checkpoints",
    "fetch_checkpoint",
    "get_checkpoint",
    "installed",
    "list_checkpoints",
    "load_checkpoint",
    "missing_message",
    "open_ledger",
    "record_weights",
    "require_checkpoint",
    "sha256_file",
    "verify_checkpoints",
]
