"""Patch extraction and pooling against an explicit loop and the bin arithmetic."""

from __future__ import annotations

import numpy as np
import torch

from bench_mias_sam.patches import FEATURE_DIM, grid_shape, patch_features, pool_patches, unfold_patches


def _windows_by_loop(embedding: np.ndarray) -> np.ndarray:
    """C x H x W -> L x (C*25): every 5 x 5 window (stride 2, zero padding 2), row by row, channel-major."""
    c, h, w = embedding.shape
    padded = np.zeros((c, h + 4, w + 4), dtype=embedding.dtype)
    padded[:, 2 : 2 + h, 2 : 2 + w] = embedding
    out = []
    for r in range(0, h, 2):  # window top-left in padded coordinates
        for col in range(0, w, 2):
            out.append(padded[:, r : r + 5, col : col + 5].reshape(-1))
    return np.stack(out)


def test_grid_is_32_by_32_for_a_64_by_64_embedding():
    assert grid_shape(64, 64) == (32, 32)


def test_unfold_matches_an_explicit_loop_over_windows():
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(2, 256, 64, 64)).astype(np.float32)
    got = unfold_patches(torch.from_numpy(emb)).numpy()
    assert got.shape == (2, 1024, 6400)
    for b in range(2):
        np.testing.assert_array_equal(got[b], _windows_by_loop(emb[b]))


def test_window_index_is_row_major_over_the_grid():
    emb = np.zeros((1, 1, 64, 64), dtype=np.float32)
    emb[0, 0, 10, 40] = 1.0  # centre of grid cell (5, 20)
    got = unfold_patches(torch.from_numpy(emb)).numpy()[0]
    centre = 2 * 5 + 2  # the middle of the 5 x 5 window
    assert got[5 * 32 + 20, centre] == 1.0


def test_pooling_6400_to_1024_is_four_overlapping_averages_per_channel():
    rng = np.random.default_rng(1)
    windows = rng.normal(size=(7, 6400)).astype(np.float32)
    got = pool_patches(torch.from_numpy(windows)).numpy()
    np.testing.assert_allclose(got, _pooled_by_bins(windows), rtol=1e-5, atol=1e-6)


def _pooled_by_bins(windows: np.ndarray) -> np.ndarray:
    """L x 6400 -> L x 1024: each channel's 25 values averaged over [0:7], [6:13], [12:19], [18:25]."""
    out = np.empty((len(windows), 1024))
    for c in range(256):
        block = windows[:, c * 25 : (c + 1) * 25].astype(np.float64)
        for j, (a, b) in enumerate([(0, 7), (6, 13), (12, 19), (18, 25)]):
            out[:, 4 * c + j] = block[:, a:b].mean(axis=1)
    return out


def test_patch_features_are_the_pooled_windows_of_an_explicit_loop():
    rng = np.random.default_rng(2)
    emb = rng.normal(size=(2, 256, 64, 64)).astype(np.float32)
    got = patch_features(torch.from_numpy(emb)).numpy()
    assert got.shape == (2, 1024, FEATURE_DIM)
    for b in range(2):
        np.testing.assert_allclose(got[b], _pooled_by_bins(_windows_by_loop(emb[b])), rtol=1e-4, atol=1e-5)


def test_lengths_that_are_not_a_channel_multiple_use_the_literal_recipe():
    emb = torch.from_numpy(np.random.default_rng(3).normal(size=(1, 6, 16, 16)).astype(np.float32))
    torch.testing.assert_close(patch_features(emb, 20), pool_patches(unfold_patches(emb), 20))
