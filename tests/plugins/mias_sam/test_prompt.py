"""The prompt against direct computations and ``ResizeLongestSide``; the decoder against ``SamPredictor``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from segment_anything import SamPredictor
from segment_anything.utils.transforms import ResizeLongestSide

from bench_mias_sam.pipeline import MiasSamPipeline, model_image
from bench_mias_sam.prompt import EmptyPromptError, SamDecoder, centre_of_gravity, select_mask, to_input_frame


def _weighted_mean_by_loop(norm_map: np.ndarray, gamma: float) -> tuple[float, float]:
    sx = sy = total = 0.0
    for y in range(norm_map.shape[0]):
        for x in range(norm_map.shape[1]):
            w = max(float(norm_map[y, x]), 0.0) ** gamma
            sx, sy, total = sx + w * x, sy + w * y, total + w
    return sx / total, sy / total


def test_centre_of_gravity_is_the_weighted_mean_of_pixel_positions():
    norm_map = np.random.default_rng(0).random((40, 56))
    x, y = centre_of_gravity(norm_map, 5.0)
    ex, ey = _weighted_mean_by_loop(norm_map, 5.0)
    assert x == pytest.approx(ex, rel=1e-12) and y == pytest.approx(ey, rel=1e-12)


def test_gamma_pulls_the_point_towards_the_peak():
    norm_map = np.zeros((50, 50))
    norm_map[10, 10] = 1.0
    norm_map[40, 40] = 0.5
    assert centre_of_gravity(norm_map, 1.0) == pytest.approx((20.0, 20.0))
    x5, _ = centre_of_gravity(norm_map, 5.0)
    assert x5 == pytest.approx((10 * 1 + 40 * 0.5**5) / (1 + 0.5**5))


def test_negative_values_weigh_nothing_and_an_empty_map_is_an_error():
    norm_map = -np.ones((20, 30))
    norm_map[5, 7] = 0.5
    assert centre_of_gravity(norm_map, 5.0) == pytest.approx((7.0, 5.0))
    with pytest.raises(EmptyPromptError, match="case `x`"):
        centre_of_gravity(np.zeros((8, 8)), 5.0, where="case `x`")


@pytest.mark.parametrize(("shape", "target"), [((256, 256), 1024), ((256, 256), 256), ((300, 300), 1024)])
def test_point_mapping_matches_resize_longest_side(shape, target):
    point = (123.4, 56.7)
    expected = ResizeLongestSide(target).apply_coords(np.array([point]), shape)
    np.testing.assert_allclose(to_input_frame(point, shape, target), expected, rtol=1e-12)
    if shape == (256, 256) and target == 1024:
        np.testing.assert_allclose(to_input_frame(point, shape, target), [[4 * 123.4, 4 * 56.7]])


def test_the_decoder_on_a_stored_embedding_matches_sam_predictor(tiny_sam, cases):
    rgb, _ = model_image(cases["test"][2].image, 256)
    point = (97.3, 141.8)
    predictor = SamPredictor(tiny_sam)
    predictor.set_image(rgb)
    expected_masks, expected_iou, _ = predictor.predict(
        point_coords=np.array([point]), point_labels=np.array([1]), multimask_output=True
    )
    pipeline = MiasSamPipeline(tiny_sam, device="cpu", k=1, sigma=4.0, faiss_device="cpu")
    embedding = pipeline.embed([rgb], [pipeline.key(rgb)])
    torch.testing.assert_close(embedding, predictor.get_image_embedding())  # same encoder input
    decoder = SamDecoder(tiny_sam)
    masks, iou = decoder.decode(embedding, to_input_frame(point, (256, 256), 256), pipeline.input_size, (256, 256))
    assert masks.dtype == bool and masks.shape == (3, 256, 256)
    np.testing.assert_array_equal(masks, expected_masks)
    np.testing.assert_allclose(iou, expected_iou, rtol=1e-5)
    assert decoder.calls == 1


def test_mask_selection_by_index_or_highest_predicted_iou():
    masks = np.zeros((3, 2, 2), dtype=bool)
    masks[0, 0, 0] = masks[1, 0, 1] = masks[2, 1, 0] = True
    iou = np.array([0.2, 0.9, 0.5])
    np.testing.assert_array_equal(select_mask(masks, iou, 2), masks[2])
    np.testing.assert_array_equal(select_mask(masks, iou, 0), masks[0])
    np.testing.assert_array_equal(select_mask(masks, iou, "best"), masks[1])


def test_model_image_pads_to_square_resizes_and_copies_gray_to_three_channels():
    image = np.zeros((100, 200), dtype=np.float32)
    image[:, :] = 128 / 255
    rgb, geometry = model_image(image, 256)
    assert rgb.shape == (256, 256, 3) and rgb.dtype == np.uint8
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert rgb[0, 128, 0] == 0 and rgb[128, 128, 0] == 128  # black padding above, image in the middle
    assert (geometry.side, geometry.top, geometry.left) == (200, 50, 0)
    same, _ = model_image(np.full((256, 256), 37 / 255, dtype=np.float32), 256)
    assert (same == 37).all()  # 8-bit values survive exactly
