"""Patch features from SAM embeddings, as the authors' PatchCore code makes them.

A 256 x 64 x 64 embedding is cut into 5 x 5 windows with stride 2 and
zero padding 2: a 32 x 32 grid of windows. Each window is flattened channel
by channel (value ``c * 25 + row * 5 + col``), 6,400 values, and reduced to
1,024 by adaptive 1-D average pooling: bin ``i`` averages values
``floor(i * 6400 / 1024)`` to ``ceil((i + 1) * 6400 / 1024)``. With 6,400 =
256 x 25, every channel's 25 values give four averages, over positions
``[0:7]``, ``[6:13]``, ``[12:19]`` and ``[18:25]`` (overlapping by one).
Windows are numbered row by row: patch ``r * 32 + c`` is grid cell (r, c).

When the output length is a multiple of the channel count (1,024 = 4 x 256),
no bin crosses a channel, and every channel has the same bins; pooling the
windows is then a depthwise 5 x 5 convolution (stride 2, padding 2) with one
averaging kernel per bin. :func:`patch_features` computes it that way, which
never holds the 6,400-value windows in memory; :func:`unfold_patches` and
:func:`pool_patches` are the literal recipe, used otherwise.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PATCH_SIZE = 5
STRIDE = 2
PADDING = (PATCH_SIZE - 1) // 2
FEATURE_DIM = 1024


def grid_shape(height: int, width: int) -> tuple[int, int]:
    """Grid of windows over an H x W embedding: (32, 32) for 64 x 64."""

    def count(n: int) -> int:
        return (n + 2 * PADDING - PATCH_SIZE) // STRIDE + 1

    return count(height), count(width)


def unfold_patches(embeddings: torch.Tensor) -> torch.Tensor:
    """B x C x H x W -> B x L x (C * 25): each window flattened channel-major, windows row by row."""
    windows = F.unfold(embeddings, kernel_size=PATCH_SIZE, stride=STRIDE, padding=PADDING)  # B x C*25 x L
    return windows.transpose(1, 2)


def pool_patches(patches: torch.Tensor, out_dim: int = FEATURE_DIM) -> torch.Tensor:
    """... x D -> ... x out_dim by adaptive 1-D average pooling over the last axis."""
    lead = patches.shape[:-1]
    pooled = F.adaptive_avg_pool1d(patches.reshape(-1, 1, patches.shape[-1]), out_dim)
    return pooled.reshape(*lead, out_dim)


def bin_kernels(channels: int, out_dim: int) -> torch.Tensor:
    """``out_dim`` x 1 x 5 x 5 averaging kernels, ``out_dim / channels`` per channel, for a grouped conv.

    Kernel ``j`` of every channel averages window positions ``floor(25 j / m)``
    to ``ceil(25 (j + 1) / m)`` (row-major in the 5 x 5 window), m = out_dim / channels:
    the adaptive pooling bins of one channel's 25 values.
    """
    per = out_dim // channels
    area = PATCH_SIZE * PATCH_SIZE
    kernels = torch.zeros(per, area)
    for j in range(per):
        start, end = (j * area) // per, -((-(j + 1) * area) // per)
        kernels[j, start:end] = 1.0 / (end - start)
    return kernels.view(per, 1, PATCH_SIZE, PATCH_SIZE).repeat(channels, 1, 1, 1)


def patch_features(embeddings: torch.Tensor, out_dim: int = FEATURE_DIM) -> torch.Tensor:
    """B x C x H x W embeddings -> B x L x ``out_dim`` patch features (L = 1,024 for 64 x 64)."""
    channels = embeddings.shape[1]
    if out_dim % channels:
        return pool_patches(unfold_patches(embeddings), out_dim)
    weight = bin_kernels(channels, out_dim).to(device=embeddings.device, dtype=embeddings.dtype)
    pooled = F.conv2d(embeddings, weight, stride=STRIDE, padding=PADDING, groups=channels)  # B x out_dim x 32 x 32
    return pooled.flatten(2).transpose(1, 2)
