"""The paper-256 frame against a direct PIL computation."""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.contract import LabelledCase
from bench.frame import get_frame, pad_square


def test_pad_square_puts_half_the_difference_on_each_side():
    a = np.ones((2, 5), np.uint8)
    p = pad_square(a)
    assert p.shape == (5, 5)
    assert p[:1].sum() == 0 and p[1:3].sum() == 10 and p[3:].sum() == 0


def test_paper_frame_matches_pil_on_8bit_images_and_grows_masks():
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (100, 160), dtype=np.uint8)
    mask = np.zeros((100, 160), bool)
    mask[40:50, 70:80] = True
    case = LabelledCase(id="x", image=u8.astype(np.float32) / 255, mask=mask, modality="retina", split="test", label=1)
    framed = get_frame("paper-256").apply(case)
    # independent: pad with PIL's own paste, resize with PIL
    canvas = Image.new("L", (160, 160), 0)
    canvas.paste(Image.fromarray(u8), (0, 30))
    expected = np.asarray(canvas.resize((256, 256), Image.BILINEAR), np.float32) / 255
    np.testing.assert_array_equal(framed.image, expected)
    assert framed.mask.shape == (256, 256) and framed.mask.dtype == bool
    scaled_area = mask.sum() * (256 / 160) ** 2
    assert scaled_area < framed.mask.sum() < scaled_area * 1.6  # bilinear then > 0 grows the lesion


def test_native_frame_is_identity():
    case = LabelledCase(id="x", image=np.zeros((3, 4), np.float32), mask=None, modality="brain", split="test", label=0)
    assert get_frame("native").apply(case) is case
