"""Synthetic retinal OCT: a procedural B-scan with layered bands and fluid pockets.

The retina is a stack of curved bands (nerve fibre, ganglion/plexiform,
nuclear layers, photoreceptor line, bright pigment epithelium, textured
choroid) whose thicknesses vary along the scan, with a foveal pit, a
per-subject curvature and tilt, depth attenuation and multiplicative
speckle. Images are ``size`` x ``2 * size`` (BMAD's RESC is 512 x 1024),
so the square padding of the evaluation frame is exercised.

Anomalies are dark fluid pockets: subretinal domes that lift the layers
above the pigment epithelium, and intraretinal cysts inside the nuclear
layers. The mask is the fluid.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from bench.datasets.synth.fields import blob_distance, smooth_field, soft_inside

# Bands from the vitreous down: (name, mean thickness as a fraction of height, reflectivity).
LAYERS = (
    ("rnfl", 0.030, 0.78),
    ("gcl_ipl", 0.045, 0.52),
    ("inl", 0.025, 0.28),
    ("opl", 0.018, 0.55),
    ("onl", 0.055, 0.22),
    ("is_os", 0.008, 0.80),
    ("os", 0.010, 0.40),
    ("rpe", 0.016, 0.97),
    ("choroid", 0.090, 0.55),
)
_INNER = {"rnfl", "gcl_ipl", "inl", "opl"}  # thinned at the fovea
_NAMES = [name for name, _, _ in LAYERS]
VITREOUS, SCLERA = 0.04, 0.22


def _profile(rng: np.random.Generator, width: int, scale: float) -> np.ndarray:
    """float64 (width,): a smooth 1-D random curve, zero mean, unit std."""
    return smooth_field(rng, (1, width), scale)[0]


class RetinaGenerator:
    """Draws OCT B-scans, ``size`` rows by ``2 * size`` columns."""

    modality = "retina"

    def __init__(self, size: int):
        self.size = size

    def shape(self) -> tuple[int, int]:
        return self.size, 2 * self.size

    def _boundaries(self, rng: np.random.Generator) -> np.ndarray:
        """float64 (len(LAYERS) + 1, W): row of each band's top edge, and the choroid's bottom.

        Bands stack upwards from Bruch's membrane (the bottom of the pigment
        epithelium), so thinning the inner layers at the fovea makes a pit.
        """
        h, w = self.shape()
        x = np.arange(w, dtype=np.float64)
        fovea = rng.uniform(0.35, 0.65) * w
        pit = np.exp(-(((x - fovea) / (rng.uniform(0.05, 0.09) * w)) ** 2))
        bowl = rng.uniform(0.0, 0.12) * h * (1 - 16 * ((x - w / 2) / w) ** 2)
        tilt = rng.uniform(-0.08, 0.08) * h * (x - w / 2) / (w / 2)
        bruch = rng.uniform(0.58, 0.68) * h + bowl + tilt + 0.01 * h * _profile(rng, w, w / 4)
        scale = rng.uniform(1.1, 1.5)
        thickness = []
        for name, mean, _ in LAYERS:
            t = mean * h * scale * (1 + 0.12 * _profile(rng, w, w / 6))
            if name in _INNER:
                t = t * (1 - rng.uniform(0.75, 0.95) * pit)
            elif name == "onl":
                t = t * (1 + rng.uniform(0.2, 0.5) * pit)
            thickness.append(np.maximum(t, 0.3))
        rpe = _NAMES.index("rpe")
        edges = np.empty((len(LAYERS) + 1, w))
        edges[rpe + 1] = bruch
        for k in range(rpe, -1, -1):
            edges[k] = edges[k + 1] - thickness[k]
        for k in range(rpe + 1, len(LAYERS)):
            edges[k + 1] = edges[k] + thickness[k]
        return edges

    def _render(self, rng: np.random.Generator, edges: np.ndarray, fluid: np.ndarray | None) -> np.ndarray:
        h, w = self.shape()
        rows = np.arange(h, dtype=np.float64)[:, None]
        index = (rows[None, :, :] >= edges[:, None, :]).sum(axis=0)  # 0: vitreous .. len(LAYERS)+1: sclera
        gain = rng.uniform(0.85, 1.1)
        levels = np.array([VITREOUS, *(r * gain * rng.uniform(0.92, 1.08) for _, _, r in LAYERS), SCLERA])
        image = levels[index]
        texture = smooth_field(rng, (h, w), 3.0)
        image *= 1 + 0.08 * texture
        choroid = index == len(LAYERS)
        vessels = smooth_field(rng, (h, w), h / 60) > 0.7
        image[choroid & vessels] *= 0.45
        below = np.clip(rows - edges[len(LAYERS) - 1][None, :], 0, None)
        image *= np.where(rows > edges[len(LAYERS) - 1][None, :], np.exp(-below / (rng.uniform(0.08, 0.14) * h)), 1)
        image = ndimage.gaussian_filter(image, (0.8, 0.5))
        if fluid is not None:
            level = rng.uniform(0.02, 0.08)
            image = image * (1 - fluid) + level * fluid
        looks = rng.uniform(2.5, 5.0)
        speckle = ndimage.gaussian_filter(rng.gamma(looks, 1 / looks, (h, w)), (0.7, 1.2))
        image = image * speckle / max(float(speckle.mean()), 1e-6)
        image += rng.uniform(0.01, 0.04) * np.abs(rng.standard_normal((h, w)))
        return np.clip(image, 0.0, 1.0)

    def normal(self, rng: np.random.Generator) -> np.ndarray:
        """float64 H x W in [0, 1]."""
        return self._render(rng, self._boundaries(rng), None)

    def anomalous(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(image float64 H x W in [0, 1], fluid mask bool H x W, never empty)."""
        h, w = self.shape()
        edges = self._boundaries(rng)
        rows = np.arange(h, dtype=np.float64)[:, None]
        x = np.arange(w, dtype=np.float64)
        fluid = np.zeros((h, w))
        kinds = rng.choice(["subretinal", "cyst"], size=rng.integers(1, 4), p=[0.4, 0.6])
        # Domes first: a dome lifts every band above it, and a cyst must stay inside its band.
        for kind in sorted(kinds, key=lambda k: k != "subretinal"):
            fluid = self._dome(rng, edges, rows, x, fluid) if kind == "subretinal" else self._cyst(rng, edges, fluid)
        image = self._render(rng, edges, fluid)
        mask = fluid > 0.5
        if not mask.any():
            mask = fluid == fluid.max()
        return image, mask

    def _dome(self, rng: np.random.Generator, edges, rows, x, fluid) -> np.ndarray:
        """Subretinal fluid: lift every band above the pigment epithelium; the gap is fluid."""
        h, w = self.shape()
        rpe = _NAMES.index("rpe")
        center, half = rng.uniform(0.2, 0.8) * w, rng.uniform(0.04, 0.14) * w
        height = rng.uniform(0.02, 0.07) * h
        dome = height * np.clip(1 - ((x - center) / half) ** 2, 0, None) ** 0.6
        edges[:rpe] -= dome[None, :]
        floor = edges[rpe][None, :]
        roof = floor - dome[None, :]
        inside = np.clip(np.minimum(rows - roof, floor - rows) + 0.5, 0, 1)
        return np.maximum(fluid, inside * (dome[None, :] > 0.5))

    def _cyst(self, rng: np.random.Generator, edges, fluid) -> np.ndarray:
        """Intraretinal cyst: an irregular dark blob in the inner or outer nuclear layer, swelling it."""
        h, w = self.shape()
        layer = _NAMES.index("onl") if rng.random() < 0.7 else _NAMES.index("inl")
        col = rng.uniform(0.15, 0.85) * w
        c = int(np.clip(col, 0, w - 1))
        thickness = max(edges[layer + 1, c] - edges[layer, c], 2.0)
        ry = rng.uniform(0.4, 0.9) * thickness + rng.uniform(0.0, 0.02) * h
        rx = ry * rng.uniform(1.0, 3.0)
        x = np.arange(w, dtype=np.float64)
        swell = 2 * ry * np.clip(1 - ((x - col) / (rx * 1.6)) ** 2, 0, None)
        edges[: layer + 1] -= swell[None, :]
        row = edges[layer, c] + (thickness + swell[c]) / 2
        d = blob_distance(rng, (h, w), (row, col), (ry, rx), roughness=0.2)
        return np.maximum(fluid, soft_inside(d, 1.5 / ry))
