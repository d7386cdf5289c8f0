"""Random building blocks shared by the synthetic modalities: seeds, smooth fields, blobs, PNG bytes.

Every random draw goes through a ``numpy.random.Generator`` seeded from
(seed, modality, split, index), so a case does not depend on which other
cases were generated, and the same seed gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

_MODALITY_CODES = {"brain": 1, "liver": 2, "retina": 3}
_SPLIT_CODES = {"train": 1, "valid": 2, "test": 3}
#: Normalised distance given to pixels too far from a blob to matter.
OUTSIDE = 1e3


def case_rng(seed: int, modality: str, split: str, index: int) -> np.random.Generator:
    """The generator of one case, independent of every other case's."""
    return np.random.default_rng(np.random.SeedSequence([seed, _MODALITY_CODES[modality], _SPLIT_CODES[split], index]))


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """float64 H x W, zero mean, unit std, correlated over about ``scale`` pixels.

    Cubic upsampling of a coarse white-noise grid: cheap at any scale.
    """
    h, w = shape
    ch, cw = max(2, int(np.ceil(h / scale))) + 3, max(2, int(np.ceil(w / scale))) + 3
    coarse = rng.standard_normal((ch, cw))
    rows = np.linspace(1.0, ch - 2.0, h)
    cols = np.linspace(1.0, cw - 2.0, w)
    field = ndimage.map_coordinates(coarse, np.meshgrid(rows, cols, indexing="ij"), order=3, mode="nearest")
    std = field.std()
    return (field - field.mean()) / (std if std > 0 else 1.0)


def blob_distance(
    rng: np.random.Generator,
    shape: tuple[int, int],
    center: tuple[float, float],
    radii: tuple[float, float],
    *,
    angle: float = 0.0,
    roughness: float = 0.25,
) -> np.ndarray:
    """float64 H x W: normalised distance from ``center`` of an irregular blob (< 1 inside).

    Args:
        center: (row, col) in pixels.
        radii: (row, col) semi-axes in pixels, before rotation by ``angle`` (radians).
        roughness: size of the boundary's lobes relative to the radius (0: an ellipse).
    """
    h, w = shape
    reach = 1.8 * max(radii) * (1.0 + 1.9 * roughness) + 3.0  # covers lobes and a 1.7x oedema shell
    r0, r1 = max(0, int(center[0] - reach)), min(h, int(np.ceil(center[0] + reach)) + 1)
    c0, c1 = max(0, int(center[1] - reach)), min(w, int(np.ceil(center[1] + reach)) + 1)
    out = np.full(shape, OUTSIDE)
    # Draw the lobes and the detail field even for an empty box, so later draws do not shift.
    amplitudes = rng.uniform(0.2, 1.0, 5)
    phases = rng.uniform(0, 2 * np.pi, 5)
    box = (max(r1 - r0, 1), max(c1 - c0, 1))
    detail = smooth_field(rng, box, max(2.0, min(radii) / 2.5))
    if r1 <= r0 or c1 <= c0:
        return out
    yy, xx = np.mgrid[r0:r1, c0:c1].astype(np.float64)
    dy, dx = yy - center[0], xx - center[1]
    c, s = np.cos(angle), np.sin(angle)
    u, v = (c * dy + s * dx) / radii[0], (-s * dy + c * dx) / radii[1]
    theta = np.arctan2(u, v)
    lobes = np.zeros_like(u)
    for k, (amplitude, phase) in enumerate(zip(amplitudes, phases, strict=True), start=2):
        lobes += amplitude * roughness / k**0.8 * np.cos(k * theta + phase)
    out[r0:r1, c0:c1] = np.hypot(u, v) / np.maximum(1.0 + lobes, 0.3) + 0.12 * roughness * detail
    return out


def soft_inside(distance: np.ndarray, width: float) -> np.ndarray:
    """float64 in [0, 1]: 1 well inside (distance < 1), 0 outside, a linear ramp ``width`` wide."""
    return np.clip((1.0 - distance) / max(width, 1e-6) + 0.5, 0.0, 1.0)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def write_png(path: Path, array: np.ndarray) -> None:
    """Write a uint8 H x W array as an 8-bit grey PNG with fixed options (same array, same bytes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8), mode="L").save(
        path, format="PNG", optimize=False, compress_level=6
    )
