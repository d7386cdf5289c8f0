"""Upsampling and smoothing against scipy; normalisation; the way back to the case's frame."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from bench_mias_sam.anomaly_map import (
    DegenerateMapError,
    Geometry,
    MinMax,
    anomaly_maps,
    gaussian_smooth,
    map_to_case,
    upsample_scores,
)


def _bilinear_half_pixel(scores: np.ndarray, size: int) -> np.ndarray:
    """align_corners=False bilinear by scipy: sample at (i + 0.5) * in / out - 0.5, edges held."""
    n = scores.shape[0]
    src = (np.arange(size) + 0.5) * (n / size) - 0.5
    rows, cols = np.meshgrid(src, src, indexing="ij")
    return ndimage.map_coordinates(scores.astype(np.float64), [rows, cols], order=1, mode="nearest")


def test_upsampling_matches_scipy_bilinear_with_half_pixel_centres():
    scores = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    got = upsample_scores(torch.from_numpy(scores)[None], 256)[0].numpy()
    np.testing.assert_allclose(got, _bilinear_half_pixel(scores, 256), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sigma", [4.0, 1.5])
def test_smoothing_matches_scipy_gaussian_filter(sigma):
    image = np.random.default_rng(1).random((64, 80)).astype(np.float32)
    got = gaussian_smooth(torch.from_numpy(image)[None], sigma)[0].numpy()
    np.testing.assert_allclose(got, ndimage.gaussian_filter(image.astype(np.float64), sigma), rtol=1e-5, atol=1e-6)


def test_the_map_is_upsampled_then_smoothed():
    scores = np.random.default_rng(2).random((2, 32, 32)).astype(np.float32) * 50
    got = anomaly_maps(torch.from_numpy(scores), 256, 4.0)
    assert got.shape == (2, 256, 256) and got.dtype == np.float32
    for i in range(2):
        expected = ndimage.gaussian_filter(_bilinear_half_pixel(scores[i], 256), 4.0)
        np.testing.assert_allclose(got[i], expected, rtol=1e-5, atol=1e-4)


def test_min_max_maps_its_range_onto_0_1_and_extrapolates_outside():
    norm = MinMax.between(2.0, 6.0, "test")
    np.testing.assert_allclose(norm.apply(np.array([2.0, 4.0, 6.0, 8.0, 0.0])), [0, 0.5, 1, 1.5, -0.5])
    assert MinMax.of(np.array([[3.0, 5.0], [9.0, 4.0]]), "x") == MinMax(3.0, 9.0, "x")
    with pytest.raises(DegenerateMapError, match="max > min"):
        MinMax.of(np.ones((4, 4)), "a constant map")


def test_a_square_case_keeps_the_map():
    amap = np.random.default_rng(3).random((256, 256)).astype(np.float32)
    np.testing.assert_array_equal(map_to_case(amap, Geometry.of(256, 256)), amap)


def test_a_wide_case_gets_the_map_resized_to_its_padded_square_and_cropped():
    geometry = Geometry.of(100, 200)
    assert (geometry.side, geometry.top, geometry.left) == (200, 50, 0)
    amap = np.random.default_rng(4).random((256, 256)).astype(np.float32)
    got = map_to_case(amap, geometry)
    assert got.shape == (100, 200)
    square = _bilinear_half_pixel(amap, 200)
    # torch computes the 1.28 scale in float32: sample positions differ by ~1e-5 pixel
    np.testing.assert_allclose(got, square[50:150, :], atol=1e-4)
