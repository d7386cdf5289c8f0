"""The evaluation frames against direct PIL computations."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.contract import LabelledCase
from bench.frame import get_frame, pad_paper, pad_square


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


def _authors(u8: np.ndarray, size: int = 256) -> np.ndarray:
    """The MIAS-SAM authors' input rule, computed independently: PIL paste onto a canvas grown by int(d/2) per side."""
    h, w = u8.shape
    pad = abs(h - w) // 2
    canvas_size = (w, h + 2 * pad) if h < w else (w + 2 * pad, h)  # PIL sizes are (width, height)
    canvas = Image.new("L", canvas_size, 0)
    canvas.paste(Image.fromarray(u8), (0, pad) if h < w else (pad, 0))
    return np.asarray(canvas.resize((size, size), Image.BILINEAR), np.float32) / 255


@pytest.mark.parametrize("shape", [(240, 241), (241, 240), (240, 480), (480, 240), (100, 163), (163, 100), (64, 64)])
def test_paper_frame_pads_as_the_authors_do_on_odd_and_even_portrait_and_landscape_shapes(shape):
    rng = np.random.default_rng(sum(shape))
    u8 = rng.integers(0, 256, shape, dtype=np.uint8)
    mask = np.zeros(shape, bool)
    mask[shape[0] // 3 : shape[0] // 2, shape[1] // 3 : shape[1] // 2] = True
    case = LabelledCase("x", u8.astype(np.float32) / 255, mask, "retina", "test", 1)
    framed = get_frame("paper-256").apply(case)
    np.testing.assert_array_equal(framed.image, _authors(u8))
    np.testing.assert_array_equal(framed.mask, _authors(mask.astype(np.uint8) * 255) > 0)
    square = get_frame("square-256").apply(case)
    if abs(shape[0] - shape[1]) % 2 == 0:  # the two rules agree unless the difference is odd
        np.testing.assert_array_equal(square.image, framed.image)
    else:
        assert not np.array_equal(square.image, framed.image)
        assert sorted(pad_paper(u8).shape) == [max(shape) - 1, max(shape)]


def test_pad_paper_leaves_an_odd_difference_one_pixel_short_of_square():
    assert pad_paper(np.ones((240, 241))).shape == (240, 241)
    assert pad_paper(np.ones((238, 241))).shape == (240, 241)
    assert pad_paper(np.ones((241, 236))).shape == (241, 240)
    assert pad_paper(np.ones((2, 6), np.uint8)).sum() == 12 and pad_paper(np.ones((2, 6))).shape == (6, 6)
