"""Evaluation frames: the resolution and resampling every detector sees.

``paper-256`` (default) is the MIAS-SAM paper's rule: the image is
square-padded with black (half the difference on each side), resized to
256 x 256 with PIL bilinear (antialiased); the mask goes through the same
padding and PIL bilinear resize and is binarised ``> 0`` (which grows a lesion
by about a pixel). ``native`` keeps each case's own resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from bench.contract import LabelledCase
from bench.errors import ConfigError


@dataclass(frozen=True)
class Frame:
    name: str
    size: int | None  # None: native resolution

    def apply(self, case: LabelledCase) -> LabelledCase:
        """Return ``case`` in this frame (image float32 [0, 1], mask bool)."""
        if self.size is None:
            return case
        if case.shape == (self.size, self.size) and case.source_bits == 8:
            # Already square at the frame's size: padding and resampling are the identity
            # (PIL returns the same 8-bit pixels; a mask stays the same after "> 0").
            return case
        image = _pad_resize_image(case.image, case.source_bits, self.size)
        mask = None if case.mask is None else _pad_resize_mask(case.mask, self.size)
        return replace(case, image=image, mask=mask)


FRAMES = {"paper-256": Frame("paper-256", 256), "native": Frame("native", None)}


def get_frame(name: str) -> Frame:
    try:
        return FRAMES[name]
    except KeyError:
        raise ConfigError(f"unknown evaluation frame {name!r}; expected one of {sorted(FRAMES)}") from None


def _pad_offsets(h: int, w: int) -> tuple[int, int, int]:
    side = max(h, w)
    return side, (side - h) // 2, (side - w) // 2


def pad_square(array: np.ndarray) -> np.ndarray:
    """H x W -> S x S with S = max(H, W), zero-padded, half the difference on each side."""
    h, w = array.shape
    side, top, left = _pad_offsets(h, w)
    out = np.zeros((side, side), dtype=array.dtype)
    out[top : top + h, left : left + w] = array
    return out


def _pad_resize_image(image: np.ndarray, bits: int, size: int) -> np.ndarray:
    padded = pad_square(image)
    if bits == 8:
        # Resample in 8 bits, as PIL does on the paper's uint8 PNGs.
        as_u8 = np.clip(np.rint(padded * 255.0), 0, 255).astype(np.uint8)
        resized = Image.fromarray(as_u8, mode="L").resize((size, size), Image.BILINEAR)
        return np.asarray(resized, dtype=np.float32) / np.float32(255.0)
    resized = Image.fromarray(padded.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _pad_resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    as_u8 = pad_square(mask.astype(np.uint8) * np.uint8(255))
    resized = Image.fromarray(as_u8, mode="L").resize((size, size), Image.BILINEAR)
    return np.asarray(resized) > 0
