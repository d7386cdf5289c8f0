"""Decoding PNG files into the arrays a :class:`~bench.contract.Case` holds.

Whatever the PNG (8-bit or 16-bit grayscale, palette, RGB, or RGBA as
matplotlib saves it), an image becomes float32 grayscale in [0, 1] and a
mask becomes bool with the rule ``> 0``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from bench.errors import DatasetError

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I", "I;16N"}


def _open(path: Path, what: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Past PIL's pixel limit it only warns; twice past it, it refuses. Both are refused here.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                image.load()
                return image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DatasetError(
            f"{what} `{path}`: over PIL's decompression-bomb limit ({exc}); "
            "raise PIL.Image.MAX_IMAGE_PIXELS only for files you trust"
        ) from None
    except FileNotFoundError:
        raise DatasetError(f"{what} `{path}` is missing (was the tree changed after listing?)") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise DatasetError(f"{what} `{path}` is not a readable PNG: {exc}") from None


def to_gray(image: Image.Image) -> tuple[np.ndarray, int]:
    """float32 H x W in [0, 1] and the source bit depth (8 or 16).

    Colour images are reduced with PIL's ITU-R 601 luma (``convert("L")``),
    which leaves grey RGB(A) pixels (R = G = B) unchanged; alpha is ignored.
    """
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow opens 16-bit grey PNGs as "I;16" (older versions as "I").
        return np.clip(np.asarray(image).astype(np.float32) / np.float32(65535.0), 0.0, 1.0), 16
    if image.mode == "F":
        return np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0), 32
    if image.mode != "L":
        image = image.convert("L")
    return np.asarray(image, dtype=np.float32) / np.float32(255.0), 8


def to_mask(image: Image.Image) -> np.ndarray:
    """bool H x W: any non-zero grey value (BraTS saves several grey levels)."""
    if image.mode in _SIXTEEN_BIT_MODES or image.mode in {"1", "L", "F"}:
        return np.asarray(image) > 0
    if image.mode == "P":
        image = image.convert("RGB")
    array = np.asarray(image)
    if array.ndim == 3:
        channels = array[..., :3] if array.shape[2] >= 3 else array[..., :1]
        return channels.max(axis=2) > 0
    return array > 0


def read_image(path: Path) -> tuple[np.ndarray, int]:
    """Decode an image file: (float32 H x W in [0, 1], source bits).

    Raises:
        DatasetError: the file is missing or not a readable image.
    """
    return to_gray(_open(path, "image"))


def read_mask(path: Path) -> np.ndarray:
    """Decode a mask file: bool H x W, ``> 0``.

    Raises:
        DatasetError: the file is missing or not a readable image.
    """
    return to_mask(_open(path, "mask"))
