"""Synthetic brain MRI: axial slices of the MNI152 T1 template with synthetic tumours.

Each subject is the template (shipped inside nilearn, no download) at a
random axial level, warped by a random affine and a smooth elastic field,
with a gamma curve, a multiplicative bias field, fine tissue texture and
Rician noise. The background is exactly zero, as in skull-stripped BraTS.

A tumour is an irregular blob placed inside the brain mask (some touch its
edge), pushing the tissue around it aside. It is either a ring-enhancing
lesion (dark necrotic centre, hyperintense rim) or a solid textured mass
whose mean intensity lies within the normal grey-to-white matter range; both
are wrapped in a shell of subtle oedema. The mask is the whole lesion
(core and oedema, like BraTS labels > 0), so intensity alone does not
separate it from normal tissue.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from bench.datasets.synth.fields import blob_distance, smooth_field, soft_inside

#: Axial levels (voxel index along z of the 1 mm template) a slice is drawn from.
Z_RANGE = (84.0, 102.0)


@lru_cache(maxsize=1)
def _template() -> tuple[np.ndarray, np.ndarray]:
    """(T1, brain mask): float32 197 x 233 x 189, intensities in [0, 1]."""
    from nilearn.datasets import load_mni152_brain_mask, load_mni152_template

    t1 = np.asarray(load_mni152_template(resolution=1).get_fdata(), dtype=np.float32)
    mask = np.asarray(load_mni152_brain_mask(resolution=1).get_fdata(), dtype=np.float32)
    return t1 / max(float(t1.max()), 1e-6), mask


def _axial(volume: np.ndarray, z: float) -> np.ndarray:
    """Linear interpolation between two axial slices; rows anterior->posterior, square-padded."""
    lo = int(np.floor(z))
    frac = z - lo
    plane = (1 - frac) * volume[:, :, lo] + frac * volume[:, :, lo + 1]  # x by y
    image = plane.T[::-1]  # rows: y (anterior at the top), columns: x
    side = max(image.shape)
    out = np.zeros((side, side), dtype=np.float32)
    top, left = (side - image.shape[0]) // 2, (side - image.shape[1]) // 2
    out[top : top + image.shape[0], left : left + image.shape[1]] = image
    return out


class BrainGenerator:
    """Draws normal and tumour-bearing axial slices, ``size`` x ``size``."""

    modality = "brain"

    def __init__(self, size: int):
        self.size = size

    def shape(self) -> tuple[int, int]:
        return self.size, self.size

    def _coords(self, rng: np.random.Generator, side: int) -> np.ndarray:
        """Output pixel -> template-slice coordinates: a random affine plus a smooth elastic field."""
        s = self.size
        # BraTS volumes are affinely registered to one atlas, so the pose varies little;
        # the template has wide margins, and BraTS crops tighter.
        zoom = 0.8 * side / s / rng.uniform(0.97, 1.03)
        angle = rng.normal(0.0, 0.03)
        shift = rng.normal(0.0, 0.008 * side, 2)
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float64) - (s - 1) / 2
        c, sn = np.cos(angle), np.sin(angle)
        rows = zoom * (c * yy - sn * xx) + (side - 1) / 2 + shift[0]
        cols = zoom * (sn * yy + c * xx) + (side - 1) / 2 + shift[1]
        amplitude = rng.uniform(1.0, 2.5) * side / 240
        rows += amplitude * smooth_field(rng, (s, s), s / 5)
        cols += amplitude * smooth_field(rng, (s, s), s / 5)
        return np.stack([rows, cols])

    def _subject(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t1 slice, brain mask float, coordinates) of a fresh subject, before intensity changes."""
        t1, mask = _template()
        z = rng.uniform(*Z_RANGE)
        t1_slice, mask_slice = _axial(t1, z), _axial(mask, z)
        coords = self._coords(rng, t1_slice.shape[0])
        return t1_slice, mask_slice, coords

    def _finish(self, rng: np.random.Generator, tissue: np.ndarray, brain: np.ndarray) -> np.ndarray:
        """Scanner effects: gamma, contrast, bias field, texture, Rician noise; zero background."""
        s = self.size
        image = np.clip(tissue, 0, None) ** rng.uniform(0.9, 1.1)
        image *= rng.uniform(0.9, 1.0)
        image *= np.exp(rng.uniform(0.03, 0.08) * smooth_field(rng, (s, s), s / 2.5))
        image *= 1.0 + 0.025 * smooth_field(rng, (s, s), 2.0)
        sigma = rng.uniform(0.01, 0.03)
        noisy = np.hypot(image + sigma * rng.standard_normal((s, s)), sigma * rng.standard_normal((s, s)))
        return np.clip(noisy * brain, 0.0, 1.0)

    def normal(self, rng: np.random.Generator) -> np.ndarray:
        """float64 H x W in [0, 1]."""
        t1_slice, mask_slice, coords = self._subject(rng)
        tissue = ndimage.map_coordinates(t1_slice, coords, order=1, mode="constant")
        brain = ndimage.map_coordinates(mask_slice, coords, order=1, mode="constant") > 0.5
        return self._finish(rng, tissue, brain)

    def anomalous(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(image float64 H x W in [0, 1], lesion mask bool H x W, never empty)."""
        s = self.size
        t1_slice, mask_slice, coords = self._subject(rng)
        brain = ndimage.map_coordinates(mask_slice, coords, order=1, mode="constant") > 0.5
        depth = ndimage.distance_transform_edt(brain)
        radius = float(np.exp(rng.uniform(np.log(0.025 * s), np.log(0.13 * s))))
        near_edge = rng.random() < 0.25
        lo, hi = (0.2 * radius, 0.9 * radius) if near_edge else (1.1 * radius, np.inf)
        candidates = np.argwhere((depth >= min(lo, depth.max() * 0.5)) & (depth <= hi))
        if len(candidates) == 0:
            candidates = np.argwhere(depth >= depth.max() * 0.5)
        center = candidates[rng.integers(len(candidates))].astype(np.float64)
        # Mass effect: sample the template from points pulled towards the centre.
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float64)
        dy, dx = yy - center[0], xx - center[1]
        r = np.hypot(dy, dx) + 1e-6
        push = rng.uniform(0.2, 0.5) * radius * np.exp(-((r / (1.8 * radius)) ** 2))
        toward = [yy - push * dy / r, xx - push * dx / r]
        pulled = np.stack([ndimage.map_coordinates(c, toward, order=1, mode="nearest") for c in coords])
        tissue = ndimage.map_coordinates(t1_slice, pulled, order=1, mode="constant")
        brain = ndimage.map_coordinates(mask_slice, pulled, order=1, mode="constant") > 0.5
        tissue, lesion = self._tumour(rng, tissue, brain, center, radius)
        return self._finish(rng, tissue, brain), lesion

    def _tumour(
        self, rng: np.random.Generator, tissue: np.ndarray, brain: np.ndarray, center: np.ndarray, radius: float
    ) -> tuple[np.ndarray, np.ndarray]:
        s = self.size
        elong = rng.uniform(0.7, 1.3)
        radii = (radius * elong, radius / elong)
        d = blob_distance(rng, (s, s), tuple(center), radii, angle=rng.uniform(0, np.pi), roughness=0.35)
        edge = 1.5 / radius
        core = soft_inside(d, edge)
        oedema_width = rng.uniform(0.15, 0.7)
        shell = soft_inside(d / (1.0 + oedema_width), edge) * (1.0 - core)
        texture = smooth_field(rng, (s, s), max(1.5, radius / 5))
        normal_tissue = float(np.median(tissue[brain])) if brain.any() else 0.6
        if rng.random() < 0.45:
            # Ring-enhancing: necrotic centre, hyperintense rim.
            necrosis = soft_inside(d / rng.uniform(0.45, 0.75), edge)
            centre = rng.uniform(0.25, 0.5) + 0.05 * texture
            rim = rng.uniform(0.85, 1.0) + 0.04 * texture
            value = necrosis * centre + (1 - necrosis) * rim
        else:
            # Solid mass within the normal tissue range.
            value = rng.uniform(0.45, 0.85) + rng.uniform(0.04, 0.1) * texture
        oedema_level = normal_tissue * rng.uniform(0.78, 0.95) + 0.03 * texture
        out = tissue * (1 - core - shell) + value * core + np.minimum(tissue, oedema_level) * shell
        lesion = (d < 1.0 + oedema_width) & brain
        if not lesion.any():
            lesion = (d == d[brain].min()) & brain if brain.any() else d == d.min()
        return out, lesion
