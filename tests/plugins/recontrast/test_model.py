"""ReContrast's network on a tiny random resnet18: what it reconstructs from what, its map, its training modes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from bench_anomalib.quiet import import_anomalib_models

SIZE = 64


@pytest.fixture(scope="module")
def model():
    import_anomalib_models()
    from bench_recontrast.model import ReContrastModel

    torch.manual_seed(0)
    return ReContrastModel("resnet18", input_size=(SIZE, SIZE), pre_trained=False).eval()


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    return torch.tensor(np.random.default_rng(0).normal(size=(2, 3, SIZE, SIZE)), dtype=torch.float32)


def test_targets_are_the_frozen_then_the_trained_encoders_layers(model, images):
    with torch.no_grad():
        targets, reconstructions = model.features(images)
        frozen = list(model.frozen_encoder(images).values())
        trained = list(model.encoder(images).values())
    assert len(targets) == len(reconstructions) == 6
    for got, expected in zip(targets, frozen + trained, strict=True):
        assert torch.equal(got, expected)
    shapes = [tuple(t.shape) for t in targets]
    assert shapes[:3] == [(2, 64, 16, 16), (2, 128, 8, 8), (2, 256, 4, 4)] and shapes[3:] == shapes[:3]
    assert [tuple(r.shape) for r in reconstructions] == shapes


def test_reconstruction_is_crossed_between_the_encoders(model, images):
    """Changing the trained encoder changes its targets and the reconstructions of the frozen ones, nothing else."""
    import copy

    changed = copy.deepcopy(model)
    with torch.no_grad():
        for p in changed.encoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
        before = model.features(images)
        after = changed.features(images)
    (t0, r0), (t1, r1) = before, after
    for i in range(3):  # frozen targets, and the second heads' reconstructions of the trained encoder's features
        assert torch.equal(t0[i], t1[i])
        assert torch.allclose(r0[3 + i], r1[3 + i], atol=1e-6)
    for i in range(3):  # trained targets, and the first heads' reconstructions of the frozen encoder's features
        assert not torch.allclose(t0[3 + i], t1[3 + i])
        assert not torch.allclose(r0[i], r1[i])


def test_the_map_sums_cosine_distances_upsampled_with_corners_aligned_then_smoothed(model, images):
    with torch.no_grad():
        targets, reconstructions = model.features(images)
        result = model(images)
    expected = np.zeros((2, SIZE, SIZE))
    for target, reconstruction in zip(targets, reconstructions, strict=True):
        t, r = target.double().numpy(), reconstruction.double().numpy()
        distance = 1 - (t * r).sum(1) / (np.linalg.norm(t, axis=1) * np.linalg.norm(r, axis=1))
        for b in range(2):
            # zoom with grid_mode=False maps corner pixels onto corner pixels, as align_corners=True
            expected[b] += ndimage.zoom(distance[b], SIZE / distance.shape[-1], order=1, grid_mode=False)
    # torch's "reflect" padding is scipy's "mirror"; scipy truncates the kernel at 4 sigma, as the model does
    expected = np.stack([ndimage.gaussian_filter(m, sigma=4, mode="mirror", truncate=4.0) for m in expected])
    amap = result.anomaly_map.numpy()
    assert amap.shape == (2, 1, SIZE, SIZE)
    np.testing.assert_allclose(amap[:, 0], expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(result.pred_score.numpy(), amap.reshape(2, -1).max(1), rtol=1e-6)


def test_training_mode_keeps_the_frozen_encoder_and_the_encoders_statistics_fixed():
    import_anomalib_models()
    from bench_recontrast.model import ReContrastModel

    for bn_train in (False, True):
        net = ReContrastModel("resnet18", input_size=(SIZE, SIZE), pre_trained=False, encoder_bn_train=bn_train).train()
        assert net.bottleneck.training and net.decoder.training and net.heads.training
        assert not net.frozen_encoder.training
        assert net.encoder.training is bn_train
        assert not any(p.requires_grad for p in net.frozen_encoder.parameters())
        assert all(p.requires_grad for p in net.encoder.parameters())
        assert not net.eval().encoder.training
