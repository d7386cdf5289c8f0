"""ReContrast's loss against an independent numpy computation, and its hard-mining gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench_recontrast.loss import global_cosine_hard_mining, mining_alpha


def _pair(seed: int, shape=(3, 5, 6, 7)) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    target = torch.tensor(rng.normal(size=shape), dtype=torch.float64)
    reconstruction = torch.tensor(rng.normal(size=shape) + 0.5 * target.numpy(), dtype=torch.float64)
    return target, reconstruction.requires_grad_(True)


def _global_distance(target: np.ndarray, reconstruction: np.ndarray) -> float:
    """mean over images of 1 - cos between the flattened maps."""
    t, r = target.reshape(len(target), -1), reconstruction.reshape(len(target), -1)
    cos = (t * r).sum(1) / (np.linalg.norm(t, axis=1) * np.linalg.norm(r, axis=1))
    return float(np.mean(1 - cos))


def _point_distance(target: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """B x H x W: 1 - cos over channels at every point."""
    dot = (target * reconstruction).sum(1)
    return 1 - dot / (np.linalg.norm(target, axis=1) * np.linalg.norm(reconstruction, axis=1))


def test_the_loss_is_the_summed_mean_global_cosine_distance():
    pairs = [_pair(0), _pair(1, shape=(3, 4, 3, 3))]
    loss = global_cosine_hard_mining([t for t, _ in pairs], [r for _, r in pairs], alpha=1.0)
    expected = sum(_global_distance(t.numpy(), r.detach().numpy()) for t, r in pairs)
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("alpha", "factor"), [(0.0, 0.0), (1.0, 0.0), (-0.5, 0.25)])
def test_easy_points_gradients_are_scaled_by_the_factor(alpha, factor):
    target, reconstruction = _pair(2)
    global_cosine_hard_mining([target], [reconstruction], alpha=alpha, factor=factor).backward()
    mined = reconstruction.grad.numpy()

    plain = reconstruction.detach().clone().requires_grad_(True)
    flat = (target.reshape(3, -1), plain.reshape(3, -1))
    torch.mean(1 - torch.nn.functional.cosine_similarity(*flat)).backward()
    point = _point_distance(target.numpy(), plain.detach().numpy())
    easy = point < point.mean() + alpha * point.std(ddof=1)  # torch.std is the unbiased estimate
    assert 0 < easy.sum() < easy.size  # both kinds of point are present
    expected = plain.grad.numpy() * np.where(easy, factor, 1.0)[:, None]
    np.testing.assert_allclose(mined, expected, rtol=1e-10, atol=1e-14)


def test_the_target_gets_no_gradient():
    target, reconstruction = _pair(3)
    target.requires_grad_(True)
    global_cosine_hard_mining([target], [reconstruction], alpha=0.0).backward()
    assert target.grad is None


def test_mining_alpha_rises_linearly_over_the_warm_up_then_stays():
    values = [mining_alpha(step, 1000, -3.0, 1.0, 0.1) for step in (0, 25, 50, 100, 999)]
    assert values == pytest.approx([-3.0, -2.0, -1.0, 1.0, 1.0])
    assert mining_alpha(0, 1000, -3.0, 1.0, 0.0) == 1.0  # no warm-up: final from the start
