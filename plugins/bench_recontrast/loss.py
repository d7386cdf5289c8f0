"""ReContrast's training loss: global cosine distance with hard-point mining.

Per pair of feature maps (target ``t``, reconstruction ``r``, both B x C x H x W),
the loss is ``mean_b(1 - cos(flatten(t_b), flatten(r_b)))``: one cosine per
image over the whole map ("global"), so the reconstruction is judged as a
whole rather than point by point. The target is detached.

Hard mining (the authors' ``global_cosine_hm``) then stops the gradient at
easy points: a point (b, h, w) whose own distance ``1 - cos(t[b,:,h,w], r[b,:,h,w])``
is below ``mean + alpha * std`` of all the pair's point distances has its
gradient multiplied by ``factor`` (0 in the paper). ``alpha`` rises
linearly from ``alpha_start`` to ``alpha_final`` over the first
``warmup`` fraction of the training steps (-3 to 1 over 10 % in the paper),
so mining starts almost off and ends keeping roughly the hardest sixth.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F  # noqa: N812


def mining_alpha(step: int, total_steps: int, start: float, final: float, warmup: float) -> float:
    """``alpha`` at optimiser step ``step`` (0-based): linear from ``start`` to ``final`` over warmup * total_steps."""
    if warmup <= 0 or total_steps <= 0:
        return final
    return min(start + (final - start) * step / (total_steps * warmup), final)


def global_cosine_hard_mining(
    targets: list[torch.Tensor], reconstructions: list[torch.Tensor], alpha: float, factor: float = 0.0
) -> torch.Tensor:
    """Sum over pairs of the mean per-image global cosine distance, with easy points' gradients scaled by ``factor``.

    Args:
        targets: feature maps, each B x C x H x W (detached here).
        reconstructions: same shapes, carrying gradients.
        alpha: mining threshold in standard deviations above the mean point distance.
        factor: gradient multiplier of the easy points (0 stops them).

    Returns:
        A scalar tensor.
    """
    loss = torch.zeros((), device=reconstructions[0].device)
    for target, reconstruction in zip(targets, reconstructions, strict=True):
        target = target.detach()
        with torch.no_grad():
            point = 1 - F.cosine_similarity(target, reconstruction, dim=1)[:, None]  # B x 1 x H x W
            easy = point < point.mean() + alpha * point.std()
        batch = target.shape[0]
        loss = loss + torch.mean(1 - F.cosine_similarity(target.reshape(batch, -1), reconstruction.reshape(batch, -1)))
        if reconstruction.requires_grad:
            scale = torch.where(easy, factor, 1.0).to(reconstruction.dtype)  # B x 1 x H x W, broadcast over C
            reconstruction.register_hook(lambda grad, scale=scale: grad * scale)
    return loss
