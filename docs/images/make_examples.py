"""Write the README's example pictures: one normal and one anomalous synthetic case per modality.

    mias-bench data synth --out /tmp/synth && python docs/images/make_examples.py /tmp/synth

Each picture is the case at half size, grey levels quantised to 31 steps
(to keep the PNG a few KB); the anomalous one shows its mask's outline in red.
The anomalous case shown is the test case with the largest lesion.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from bench.datasets.bmad import BMAD_BRAIN, BMAD_LIVER, BMAD_RESC

HERE = Path(__file__).parent
RED = 31  # palette index of the outline


def _picture(image: np.ndarray, mask: np.ndarray | None) -> Image.Image:
    h, w = image.shape
    half = (w // 2, h // 2)
    grey = np.asarray(Image.fromarray(np.rint(image * 255).astype(np.uint8)).resize(half, Image.BILINEAR))
    indexed = np.rint(grey / 255 * 30).astype(np.uint8)
    if mask is not None:
        small = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(half, Image.BILINEAR)) > 127
        indexed[small & ~ndimage.binary_erosion(small)] = RED
    picture = Image.fromarray(indexed, mode="P")
    palette = [v for i in range(31) for v in (round(i * 255 / 30),) * 3] + [255, 40, 40]
    picture.putpalette(palette)
    return picture


def main(root: Path) -> None:
    for spec, modality in ((BMAD_BRAIN, "brain"), (BMAD_LIVER, "liver"), (BMAD_RESC, "retina")):
        refs = spec.open(root / modality).cases("test")
        normal = next(r for r in refs if r.label == 0).load()
        anomalous = max((r.load() for r in refs if r.label == 1), key=lambda c: int(c.mask.sum()))
        for kind, case in (("normal", normal), ("anomalous", anomalous)):
            _picture(case.image, case.mask).save(HERE / f"synth-{modality}-{kind}.png", optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
