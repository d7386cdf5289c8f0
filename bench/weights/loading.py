"""Loading a cached checkpoint: verified digest, ``torch.load(..., weights_only=True)`` or safetensors.

``weights_only=True`` lets torch unpickle tensors and plain containers only,
so a checkpoint cannot run code when it is opened; a ``.safetensors`` file
holds no code at all. torch is imported here, inside the function, so
listing and fetching weights never import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import WeightsError
from bench.hashing import sha256_file
from bench.weights.cache import check_file, require_checkpoint
from bench.weights.ledger import note_loaded


@dataclass(frozen=True)
class LoadedWeights:
    """A checkpoint's tensors and where they came from.

    Attributes:
        name: the checkpoint name (``sam_vit_b``).
        path: the cached file.
        sha256: its full SHA-256 hex digest (stored with every run).
        state_dict: parameter name -> tensor, on the CPU.
    """

    name: str
    path: Path
    sha256: str
    state_dict: dict[str, Any]


def load_checkpoint(name: str) -> LoadedWeights:
    """Load the cached checkpoint ``name`` onto the CPU after checking its digest.

    Raises:
        WeightsError: the file is missing (naming the file, its address and
            the command that installs it), does not match its digest, or is
            not a plain state dict that ``weights_only=True`` accepts.
    """
    import pickle

    import torch

    ck, path = require_checkpoint(name)
    # Hashed on every load: a file changed in place (same size and mtime) is never used under an old digest.
    digest = sha256_file(path)
    check_file(ck, path, digest)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(
            f"checkpoint {name!r} ({path}) cannot be loaded with torch.load(weights_only=True): {first}"
        ) from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # some training scripts wrap the state dict
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise WeightsError(f"checkpoint {name!r} ({path}): expected a state dict (name -> tensor), found {type(state)}")
    note_loaded(name, digest, path)
    return LoadedWeights(name=name, path=path, sha256=digest, state_dict=state)
