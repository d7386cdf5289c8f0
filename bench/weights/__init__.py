"""Model checkpoints: the known ones, the cache, fetching, verifying and loading.

Nothing here imports torch at module level; only :func:`load_checkpoint` does.
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
from bench.weights.fetch import DownloadProgress, fetch_checkpoint
from bench.weights.ledger import LoadedFile, WeightsLedger, open_ledger, record_weights
from bench.weights.loading import LoadedWeights, load_checkpoint
from bench.weights.registry import (
    KNOWN_CHECKPOINTS,
    OFFICIAL_FOR_VARIANT,
    Checkpoint,
    get_checkpoint,
    list_checkpoints,
)

#: The ``weights`` value that builds a network with random weights (tests, smoke runs).
RANDOM_INIT = "random-init"

__all__ = [
    "KNOWN_CHECKPOINTS",
    "OFFICIAL_FOR_VARIANT",
    "RANDOM_INIT",
    "Checkpoint",
    "DownloadProgress",
    "LoadedFile",
    "LoadedWeights",
    "WeightsLedger",
    "VerifyResult",
    "add_checkpoint",
    "checkpoint_path",
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
