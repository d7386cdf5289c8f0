"""Cache keys: SHA-256 digests of everything that determines a cached array, and nothing else.

- An **embedding** (the encoder's 256 x 64 x 64 output) is determined by
  the network's weights (the checkpoint's SHA-256; for random weights, the
  variant, the seed that drew them and the torch version whose generator
  drew them), how the encoder runs (attention kernel, dtype, compilation,
  device type: each changes the float rounding), SAM's preprocessing
  (``ResizeLongestSide`` to the encoder's input size and ``Sam.preprocess``),
  and the exact uint8 image given to it (after padding, resizing and any
  training flip).
- A **memory bank** is determined by its training embeddings, in order,
  and the bank options (index, storage, coreset and their parameters, the
  seed of any random draw, the faiss device and version).
- A **search** (the k nearest squared distances of one image's patches) is
  determined by the bank, the image's embedding, and k.

Settings that only shape what happens after the search (gamma, sigma,
normalisation, mask index) are in no key, so runs that differ only in them
share every encode and every search.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Raised when the meaning of a cached array changes, so old entries are never read as new ones.
KEY_FORMAT = 1


def digest(value: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``value``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def encoder_identity(
    *,
    variant: str,
    weights_sha256: str | None,
    seed: int,
    input_size: int,
    attention: str,
    dtype: str,
    compiled: bool,
    device: str,
) -> str:
    """Digest of what an encoder computes, given the same input image."""
    import torch

    weights: dict[str, Any]
    if weights_sha256 is None:  # random weights: the generator that drew them defines them
        weights = {"random_init": variant, "seed": seed, "torch": torch.__version__}
    else:
        weights = {"sha256": weights_sha256}
    return digest(
        {
            "format": KEY_FORMAT,
            "kind": "sam-image-encoder",
            "variant": variant,
            "weights": weights,
            "preprocess": f"ResizeLongestSide({input_size})+Sam.preprocess",
            "attention": attention,
            "dtype": dtype,
            "compiled": compiled,
            "device": device.split(":")[0],
        }
    )


def embedding_key(encoder: str, image: np.ndarray) -> str:
    """Key of the embedding of ``image`` (uint8, S x S x 3, the encoder's input) by the encoder ``encoder``."""
    image = np.ascontiguousarray(image)
    h = hashlib.sha256()
    h.update(f"{KEY_FORMAT}:{encoder}:{image.shape}:{image.dtype.str}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()


def bank_key(embedding_keys: Sequence[str], options: dict[str, Any]) -> str:
    """Key of a memory bank built from these embeddings, in this order, with these options."""
    h = hashlib.sha256()
    h.update(digest({"format": KEY_FORMAT, "kind": "memory-bank", "options": options}).encode())
    for key in embedding_keys:
        h.update(key.encode())
    return h.hexdigest()


def search_key(bank: str, embedding: str, k: int) -> str:
    """Key of the ``k`` nearest squared distances of every patch of one embedding in one bank."""
    return digest({"format": KEY_FORMAT, "kind": "knn", "bank": bank, "embedding": embedding, "k": k})
