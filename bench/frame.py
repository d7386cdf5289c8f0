"""Evaluation frames: the resolution and resampling every detector sees.

``paper-256`` (default) is the MIAS-SAM authors' rule: the shorter side is
padded with black by ``int(d / 2)`` pixels on *both* sides (``d`` the
difference of the sides; when ``d`` is odd the result is one pixel short of
square), then resized to 256 x 256 with PIL bilinear (antialiased); the mask
goes through the same padding and resize and is binarised ``> 0`` (which grows
a lesion by about a pixel). ``square-256`` pads to a true square (the odd
pixel goes to the end) and is otherwise the same; the two differ only on
images whose sides differ by an odd number (BMAD's do not). ``native`` keeps
each case's own resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from PIL import Image

from bench.contract import LabelledCase
from bench.errors import ConfigError


@dataclass(frozen=True)
class Frame:
    """An evaluation frame: the side it resizes to (``None``: native) and how it pads to square first."""

    name: str
    size: int | None  # None: native resolution
    padding: str = "paper"  # "paper": int(d / 2) on both sides; "square": a true square

    def apply(self, case: LabelledCase) -> LabelledCase:
        """Return ``case`` in this frame (image float32 [0, 1], mask bool)."""
        if self.size is None:
            return case
        if case.shape == (self.size, self.size) and case.source_bits == 8:
            # Already square at the frame's size: padding and resampling are the identity
            # (PIL returns the same 8-bit pixels; a mask stays the same after "> 0").
            return case
        pad = pad_paper if self.padding == "paper" else pad_square
        image = _resize_image(pad(case.image), case.source_bits, self.size)
        mask = None if case.mask is None else _resize_mask(pad(case.mask), self.size)
        return replace(case, image=image, mask=mask)


FRAMES = {
    "paper-256": Frame("paper-256", 256, "paper"),
    "square-256": Frame("square-256", 256, "square"),
    "native": Frame("native", None),
}


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


def pad_paper(array: np.ndarray) -> np.ndarray:
    """H x W -> the MIAS-SAM authors' padding: ``int(|H - W| / 2)`` zeros on both sides of the shorter side.

    The result is square when ``|H - W|`` is even, one pixel short of square when it is odd.
    """
    h, w = array.shape
    pad = abs(h - w) // 2
    out = np.zeros((h + 2 * pad, w) if h < w else (h, w + 2 * pad), dtype=array.dtype)
    top, left = (pad, 0) if h < w else (0, pad)
    out[top : top + h, left : left + w] = array
    return out


def _resize_image(padded: np.ndarray, bits: int, size: int) -> np.ndarray:
    if bits == 8:
        # Resample in 8 bits, as PIL does on the paper's uint8 PNGs.
        as_u8 = np.clip(np.rint(padded * 255.0), 0, 255).astype(np.uint8)
        resized = Image.fromarray(as_u8, mode="L").resize((size, size), Image.BILINEAR)
        return np.asarray(resized, dtype=np.float32) / np.float32(255.0)
    resized = Image.fromarray(padded.astype(np.float32), mode="F").resize((size, size), Image.BILINEAR)
    return np.clip(np.asarray(resized, dtype=np.float32), 0.0, 1.0)


def _resize_mask(padded: np.ndarray, size: int) -> np.ndarray:
    as_u8 = padded.astype(np.uint8) * np.uint8(255)
    resized = Image.fromarray(as_u8, mode="L").resize((size, size), Image.BILINEAR)
    return np.asarray(resized) > 0
