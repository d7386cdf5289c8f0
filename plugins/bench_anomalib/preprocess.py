"""Cases to model input, and anomaly maps back to the cases' frame.

A case is grayscale, float32 H x W in [0, 1]. A model sees it resized to
``input_size`` x ``input_size`` (bilinear, antialiased, as anomalib's own
``Resize(antialias=True)`` pre-processor), copied to 3 channels and
normalised per channel. Resizing is done once per case (:func:`resize_cases`);
the cheap channel copy and normalisation per batch (:func:`normalise`), so
the training set is held in memory as one 1-channel tensor.

torch is imported inside the functions: importing this module stays light.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from bench.sdk import ContractViolation

if TYPE_CHECKING:
    import torch


def resize_cases(images: Iterable[np.ndarray], size: int) -> torch.Tensor:
    """Grayscale images (float32, H x W each, sizes may differ) -> float32, N x 1 x size x size, on the CPU.

    Bilinear with antialiasing; an image already ``size`` x ``size`` is copied unchanged.
    """
    import torch
    from torch.nn import functional as F  # noqa: N812

    rows = []
    for image in images:
        if image.ndim != 2:
            raise ContractViolation(f"expected a grayscale H x W image, got shape {image.shape}")
        x = torch.tensor(np.asarray(image, dtype=np.float32))[None, None]
        if tuple(x.shape[-2:]) != (size, size):
            x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        rows.append(x)
    if not rows:
        return torch.empty((0, 1, size, size), dtype=torch.float32)
    return torch.cat(rows)


def normalise(gray: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """float32, B x 1 x S x S in [0, 1] -> float32, B x 3 x S x S: the channel copied 3 times, then (x - mean) / std."""
    import torch

    mean_t = torch.tensor(mean, dtype=gray.dtype, device=gray.device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=gray.dtype, device=gray.device).view(1, 3, 1, 1)
    return (gray.expand(-1, 3, -1, -1) - mean_t) / std_t


def to_case_frame(maps: torch.Tensor, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Maps (B x 1 x S x S or B x S x S) -> one float32 H x W array per case, bilinear (align_corners false)."""
    from torch.nn import functional as F  # noqa: N812

    if maps.ndim == 3:
        maps = maps[:, None]
    if maps.ndim != 4 or maps.shape[1] != 1:
        raise ContractViolation(f"expected anomaly maps B x 1 x H x W, got shape {tuple(maps.shape)}")
    out = []
    for amap, shape in zip(maps, shapes, strict=True):
        m = amap[None].float()
        if tuple(m.shape[-2:]) != tuple(shape):
            m = F.interpolate(m, size=tuple(shape), mode="bilinear", align_corners=False)
        out.append(m[0, 0].detach().cpu().numpy().astype(np.float32, copy=False))
    return out
