"""From patch scores to anomaly maps, their normalisation, and back to the case's frame.

The 32 x 32 patch scores are upsampled bilinearly to ``size`` x ``size``
(``align_corners=False``, as ``F.interpolate`` in the authors' code) and
smoothed with a Gaussian of standard deviation ``sigma`` that reproduces
``scipy.ndimage.gaussian_filter`` (kernel radius ``int(4 * sigma + 0.5)``,
half-sample symmetric edges, scipy's ``mode="reflect"``). Smoothing runs in
torch so it can stay on the GPU; the tests compare it with scipy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bench.sdk import BenchError

TRUNCATE = 4.0  # scipy's default kernel truncation, in standard deviations


class DegenerateMapError(BenchError):
    """A map (or a set of maps) is constant, so min-max normalisation is undefined."""


def upsample_scores(scores: torch.Tensor, size: int) -> torch.Tensor:
    """B x h x w patch scores -> B x size x size, bilinear, ``align_corners=False``."""
    return F.interpolate(scores[:, None], size=(size, size), mode="bilinear", align_corners=False)[:, 0]


def gaussian_kernel(sigma: float) -> torch.Tensor:
    """1-D Gaussian weights (float64) of radius ``int(TRUNCATE * sigma + 0.5)``, summing to 1."""
    radius = int(TRUNCATE * float(sigma) + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (x / sigma) ** 2)
    return weights / weights.sum()


def _symmetric_index(n: int, radius: int, device) -> torch.Tensor:
    """Indices of a length-n axis padded by ``radius`` with half-sample symmetry (d c b a | a b c d | d c b a)."""
    idx = torch.arange(-radius, n + radius, device=device)
    period = 2 * n
    idx = torch.remainder(idx, period)
    return torch.where(idx >= n, period - 1 - idx, idx)


def gaussian_smooth(maps: torch.Tensor, sigma: float) -> torch.Tensor:
    """B x H x W -> B x H x W smoothed along both axes (float64 arithmetic, input dtype out)."""
    if sigma <= 0:
        return maps
    kernel = gaussian_kernel(sigma).to(maps.device)
    radius = (len(kernel) - 1) // 2
    x = maps.to(torch.float64)
    b, h, w = x.shape
    # rows: pad columns, convolve along the last axis
    x = x.index_select(2, _symmetric_index(w, radius, x.device))
    x = F.conv1d(x.reshape(b * h, 1, -1), kernel.view(1, 1, -1)).reshape(b, h, w)
    # columns: the same along the other axis
    x = x.transpose(1, 2).index_select(2, _symmetric_index(h, radius, x.device))
    x = F.conv1d(x.reshape(b * w, 1, -1), kernel.view(1, 1, -1)).reshape(b, w, h).transpose(1, 2)
    return x.to(maps.dtype)


def anomaly_maps(scores: torch.Tensor, size: int, sigma: float) -> np.ndarray:
    """B x 32 x 32 patch scores -> B x size x size float32 anomaly maps (upsampled, smoothed)."""
    maps = gaussian_smooth(upsample_scores(scores.to(torch.float32), size), sigma)
    return maps.cpu().numpy().astype(np.float32, copy=False)


@dataclass(frozen=True)
class MinMax:
    """An affine map of [lo, hi] onto [0, 1]; values outside the range go below 0 or above 1."""

    lo: float
    hi: float
    source: str

    @classmethod
    def of(cls, values: np.ndarray, source: str) -> MinMax:
        lo, hi = float(np.min(values)), float(np.max(values))
        return cls.between(lo, hi, source)

    @classmethod
    def between(cls, lo: float, hi: float, source: str) -> MinMax:
        if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
            raise DegenerateMapError(
                f"cannot min-max normalise anomaly maps from {source}: min {lo} and max {hi} "
                "(expected finite values with max > min)"
            )
        return cls(lo, hi, source)

    def apply(self, amap: np.ndarray) -> np.ndarray:
        return ((amap - self.lo) / (self.hi - self.lo)).astype(np.float32)


@dataclass(frozen=True)
class Geometry:
    """How a case sits in the square model frame.

    The case (``height`` x ``width``) was zero-padded to ``side`` x ``side``
    (``top`` rows above, ``left`` columns before) and resized to the model's
    square image; maps and masks travel the same way back.
    """

    height: int
    width: int
    side: int
    top: int
    left: int

    @classmethod
    def of(cls, height: int, width: int) -> Geometry:
        side = max(height, width)
        return cls(height, width, side, (side - height) // 2, (side - width) // 2)

    def crop(self, square: np.ndarray) -> np.ndarray:
        """side x side -> height x width (drop the padding)."""
        return square[self.top : self.top + self.height, self.left : self.left + self.width]


def map_to_case(amap: np.ndarray, geometry: Geometry) -> np.ndarray:
    """size x size map -> the case's H x W (bilinear back to the padded square, then the padding cropped)."""
    if amap.shape != (geometry.side, geometry.side):
        square = F.interpolate(
            torch.from_numpy(np.ascontiguousarray(amap))[None, None],
            size=(geometry.side, geometry.side),
            mode="bilinear",
            align_corners=False,
        )[0, 0].numpy()
    else:
        square = amap
    return np.ascontiguousarray(geometry.crop(square), dtype=np.float32)
