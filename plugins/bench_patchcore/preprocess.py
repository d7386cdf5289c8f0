"""Cases to backbone input, and anomaly maps back to the cases' frame.

torch is imported inside the functions: importing this module stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from bench.sdk import ContractViolation
from bench_anomalib.preprocess import to_case_frame  # noqa: F401  (anomalib's maps back to the cases' frame)
from bench_patchcore.config import PatchcoreConfig

if TYPE_CHECKING:
    import torch


def to_backbone_input(images: Sequence[np.ndarray], config: PatchcoreConfig, device: torch.device) -> torch.Tensor:
    """Grayscale cases -> the backbone's input.

    Args:
        images: each float32, H x W in [0, 1]; sizes may differ.
        config: ``input_size``, ``mean`` and ``std`` are read.
        device: where the tensor is built.

    Returns:
        float32, B x 3 x S x S with S = ``input_size``: each image resized
        (bilinear, antialiased; skipped when already S x S), copied to 3
        channels and normalised per channel.
    """
    import torch
    from torch.nn import functional as F  # noqa: N812

    size = (config.input_size, config.input_size)
    rows = []
    for image in images:
        if image.ndim != 2:
            raise ContractViolation(f"expected a grayscale H x W image, got shape {image.shape}")
        x = torch.tensor(np.asarray(image, dtype=np.float32), device=device)[None, None]
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        rows.append(x)
    batch = torch.cat(rows).expand(-1, 3, -1, -1)
    mean = torch.tensor(config.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    std = torch.tensor(config.std, dtype=torch.float32, device=device).view(1, 3, 1, 1)
    return (batch - mean) / std
