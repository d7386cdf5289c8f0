"""Synthetic liver CT: a procedural abdominal slice in Hounsfield units, windowed to [0, 1].

The slice has a body outline with subcutaneous fat and a muscle wall, the
liver (on the image's left, the patient's right) with brighter vessels, a
vertebra with its canal and paraspinal muscles, aorta and vena cava,
spleen, stomach with an air cap, sometimes kidneys, bowel loops, ribs and
the scanner table; then correlated noise and an abdominal window
(about L 50 / W 400, as in BMAD's liver set).

Lesions are hypo- or hyper-dense irregular blobs (some with a rim) inside
the liver; the mask is the lesion within the liver.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from bench.datasets.synth.fields import blob_distance, smooth_field, soft_inside

AIR = -1000.0


class LiverGenerator:
    """Draws abdominal CT slices, ``size`` x ``size``."""

    modality = "liver"

    def __init__(self, size: int):
        self.size = size

    def shape(self) -> tuple[int, int]:
        return self.size, self.size

    def _blob(self, rng, center_uv, radii_uv, roughness=0.08, angle=0.0) -> np.ndarray:
        """Normalised distance of a blob given in body units (centre (u, v), radii (ru, rv)), u right, v down."""
        s = self.size
        half = s / 2
        center = (half + center_uv[1] * half, half + center_uv[0] * half)
        radii = (radii_uv[1] * half, radii_uv[0] * half)
        return blob_distance(rng, (s, s), center, radii, angle=angle, roughness=roughness)

    def _paint(self, hu: np.ndarray, d: np.ndarray, value, where: np.ndarray | None = None) -> np.ndarray:
        alpha = soft_inside(d, 0.02)
        if where is not None:
            alpha = alpha * where
        hu[...] = hu * (1 - alpha) + value * alpha
        return alpha > 0.5

    def _anatomy(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(HU image float64 H x W, liver mask bool H x W) of a fresh subject."""
        s = self.size
        hu = np.full((s, s), AIR)
        bu, bv = rng.uniform(0.78, 0.92), rng.uniform(0.55, 0.68)
        by = rng.uniform(0.0, 0.08)
        body = self._blob(rng, (rng.normal(0, 0.02), by), (bu, bv), roughness=0.04)
        self._paint(hu, body, -100 + rng.normal(0, 8))
        fat = rng.uniform(0.03, 0.12)
        wall = self._blob(rng, (0, by), (bu - fat, bv - fat), roughness=0.04)
        self._paint(hu, wall, 50 + rng.normal(0, 5))
        cavity_d = self._blob(rng, (0, by + 0.01), (bu - fat - 0.045, bv - fat - 0.045), roughness=0.03)
        cavity = self._paint(hu, cavity_d, -90 + rng.normal(0, 8))
        floor = by + bv - fat  # v of the back wall
        # Table under the patient.
        rows = np.arange(s)[:, None]
        table_row = (1 + by + bv + 0.06) * s / 2
        hu[((rows >= table_row) & (rows < table_row + max(2, s // 80)))[:, 0], :] = 200
        # Vertebra, canal, posterior elements, paraspinal muscles.
        vert_v = floor - rng.uniform(0.32, 0.38)
        for side in (-1, 1):
            self._paint(hu, self._blob(rng, (0.17 * side, vert_v + 0.16), (0.12, 0.09), 0.05), 55)
        vertebra = self._blob(rng, (0, vert_v), (0.11, 0.1), roughness=0.04)
        self._paint(hu, vertebra, 700)
        self._paint(hu, vertebra / 0.8, 230 + rng.normal(0, 20))
        self._paint(hu, self._blob(rng, (0, vert_v + 0.16), (0.035, 0.03), 0.02), 500)
        self._paint(hu, self._blob(rng, (0, vert_v + 0.15), (0.025, 0.02), 0.02), 20)
        # Great vessels.
        contrast = rng.uniform(120, 200)
        self._paint(hu, self._blob(rng, (0.07, vert_v - 0.15), (0.045, 0.045), 0.02), contrast)
        self._paint(hu, self._blob(rng, (-0.12, vert_v - 0.12), (0.055, 0.04), 0.05), contrast * 0.75)
        # Liver with portal/hepatic vessels.
        liver_hu = rng.uniform(95, 125)
        lu, lv = rng.uniform(0.3, 0.42), rng.uniform(0.32, 0.45)
        liver_d = self._blob(
            rng, (-(bu - fat) + lu + rng.uniform(0.02, 0.08), by - 0.05 + rng.uniform(-0.06, 0.06)), (lu, lv), 0.25
        )
        liver_d = np.maximum(liver_d, cavity_d)
        texture = smooth_field(rng, (s, s), s / 30)
        liver = self._paint(hu, liver_d, liver_hu + 6 * texture)
        vessels = np.abs(smooth_field(rng, (s, s), s / 12)) < 0.08
        hu[liver & vessels] += rng.uniform(15, 45)
        # Spleen, stomach with air, kidneys, bowel.
        self._paint(hu, self._blob(rng, (bu - fat - 0.2, vert_v - 0.05), (0.12, 0.2), 0.15, 0.5), liver_hu + 5)
        stomach = self._blob(rng, (rng.uniform(0.15, 0.35), by - 0.3), (0.2, 0.14), 0.15)
        wall_mask = self._paint(hu, stomach, 40, where=~liver)
        air_line = (by - 0.3 - 0.14 * rng.uniform(0.1, 0.6) + 1) * s / 2
        hu[wall_mask & (stomach < 0.85) & (rows < air_line)] = AIR
        if rng.random() < 0.5:
            for side in (-1, 1):
                self._paint(hu, self._blob(rng, (0.3 * side, vert_v + 0.02), (0.08, 0.11), 0.08), contrast)
        taken = liver | (hu > 150) | (hu < -500)
        for _ in range(rng.integers(3, 8)):
            center = (rng.uniform(-0.3, 0.55), rng.uniform(by - 0.15, vert_v - 0.05))
            loop = self._blob(rng, center, (rng.uniform(0.04, 0.08),) * 2, 0.2)
            inside = self._paint(hu, loop, rng.uniform(10, 50), where=cavity & ~taken)
            if rng.random() < 0.4:
                hu[inside & (loop < 0.4)] = AIR
        # Ribs along the lateral wall.
        for angle in rng.uniform(0, 2 * np.pi, rng.integers(4, 9)):
            ru, rv = (bu - fat - 0.03) * np.cos(angle), by + (bv - fat - 0.03) * np.sin(angle)
            if rv < vert_v:
                self._paint(hu, self._blob(rng, (ru, rv), (0.025, 0.02), 0.05, angle), 450)
        return hu, liver & ~(hu < -500)

    def _scan(self, rng: np.random.Generator, hu: np.ndarray) -> np.ndarray:
        s = self.size
        noise = ndimage.gaussian_filter(rng.standard_normal((s, s)), 0.7) * 2.0
        hu = hu + rng.uniform(8, 16) * noise
        level, width = rng.uniform(40, 60), rng.uniform(350, 420)
        return np.clip((hu - (level - width / 2)) / width, 0.0, 1.0)

    def normal(self, rng: np.random.Generator) -> np.ndarray:
        """float64 H x W in [0, 1]."""
        hu, _ = self._anatomy(rng)
        return self._scan(rng, hu)

    def anomalous(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(image float64 H x W in [0, 1], lesion mask bool H x W, never empty)."""
        s = self.size
        hu, liver = self._anatomy(rng)
        depth = ndimage.distance_transform_edt(liver)
        lesion = np.zeros((s, s), dtype=bool)
        liver_hu = float(np.median(hu[liver]))
        for _ in range(rng.choice([1, 1, 2, 3])):
            radius = float(np.exp(rng.uniform(np.log(0.02 * s), np.log(0.11 * s))))
            candidates = np.argwhere(depth >= min(0.8 * radius, depth.max() * 0.6))
            center = candidates[rng.integers(len(candidates))].astype(np.float64)
            elong = rng.uniform(0.75, 1.3)
            d = blob_distance(
                rng, (s, s), tuple(center), (radius * elong, radius / elong), angle=rng.uniform(0, np.pi), roughness=0.3
            )
            alpha = soft_inside(d, 1.5 / radius) * liver
            texture = smooth_field(rng, (s, s), max(1.5, radius / 4))
            delta = -rng.uniform(20, 60) if rng.random() < 0.7 else rng.uniform(20, 50)
            value = liver_hu + delta + 8 * texture
            if delta < 0 and rng.random() < 0.35:
                rim = soft_inside(d, 1.5 / radius) - soft_inside(d / 0.8, 1.5 / radius)
                value = value + rim * rng.uniform(40, 80)
            hu = hu * (1 - alpha) + value * alpha
            lesion |= (d < 1.0) & liver
        if not lesion.any():
            lesion = depth == depth.max()
        return self._scan(rng, hu), lesion
