"""The fused attention against segment-anything's own, module by module and through the whole detector."""

from __future__ import annotations

import copy
from functools import partial

import numpy as np
import pytest
import torch
from segment_anything.modeling import ImageEncoderViT
from segment_anything.modeling.image_encoder import Attention

from bench.contract import DetectorContext, validate_prediction
from bench_mias_sam import MiasSam, MiasSamConfig, attention
from bench_mias_sam.attention import FusedAttention, use_fused_attention, use_reference_attention


def _randomised(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Every parameter drawn at random, relative positions included (they start at zero in a fresh SAM)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 0.2)
    return module.eval().requires_grad_(False)


def _pair(module: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Module]:
    fused = copy.deepcopy(module)
    assert use_fused_attention(fused) > 0
    return module, fused


@pytest.mark.parametrize("rel_pos", [True, False])
def test_one_attention_module_matches_segment_anything(rel_pos):
    reference, fused = _pair(_randomised(Attention(32, num_heads=4, use_rel_pos=rel_pos, input_size=(12, 10)), 0))
    x = torch.randn(2, 12, 10, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), reference(x), rtol=1e-5, atol=1e-5)


def test_building_the_mask_a_few_rows_at_a_time_changes_nothing(monkeypatch):
    reference, fused = _pair(_randomised(Attention(16, num_heads=2, use_rel_pos=True, input_size=(9, 9)), 2))
    x = torch.randn(3, 9, 9, 16, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        whole = fused(x)
        monkeypatch.setattr(attention, "MASK_BYTES", 1)  # one query row per call
        by_rows = fused(x)
        expected = reference(x)
    torch.testing.assert_close(by_rows, whole, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(by_rows, expected, rtol=1e-5, atol=1e-5)


def test_an_encoder_with_global_and_padded_window_blocks_matches():
    encoder = ImageEncoderViT(
        img_size=64,
        patch_size=4,
        embed_dim=32,
        depth=3,
        num_heads=2,
        mlp_ratio=2.0,
        out_chans=16,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        use_rel_pos=True,
        window_size=6,  # 16 tokens a side: windows need padding
        global_attn_indexes=(1,),
    )
    reference, fused = _pair(_randomised(encoder, 4))
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(fused(x), reference(x), rtol=1e-4, atol=1e-4)


def test_switching_is_by_class_and_reversible(tiny_sam):
    sam = copy.deepcopy(tiny_sam)
    keys = set(sam.state_dict())
    assert use_fused_attention(sam.image_encoder) == 2  # the tiny SAM's two blocks
    assert use_fused_attention(sam.image_encoder) == 0  # already switched
    assert all(type(b.attn) is FusedAttention for b in sam.image_encoder.blocks)
    assert set(sam.state_dict()) == keys  # checkpoints load as before
    assert use_reference_attention(sam.image_encoder) == 2
    assert all(type(b.attn) is Attention for b in sam.image_encoder.blocks)


def test_bfloat16_autocast_stays_close_to_float32():
    module = _randomised(Attention(32, num_heads=2, use_rel_pos=True, input_size=(8, 8)), 6)
    use_fused_attention(module)
    x = torch.randn(1, 8, 8, 32, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        exact = module(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = module(x)
    assert low.dtype == torch.bfloat16
    assert np.corrcoef(exact.flatten().numpy(), low.float().flatten().numpy())[0, 1] > 0.999


def _predictions(tmp_path, cases, kernel: str):
    """Test predictions of the tiny SAM with random relative positions, and the decoder's upscaled logits."""
    context = DetectorContext(device="cpu", seed=0, work_dir=tmp_path / kernel, batch_size=3)
    config = MiasSamConfig(sam_variant="tiny", weights="random-init", normalization="per-image", attention=kernel)
    detector = MiasSam(config, context)
    sam = detector.pipeline.sam
    # relative positions start at zero in a fresh SAM; draw them so the bias is exercised
    generator = torch.Generator().manual_seed(8)
    with torch.no_grad():
        for block in sam.image_encoder.blocks:
            block.attn.rel_pos_h.normal_(0, 0.5, generator=generator)
            block.attn.rel_pos_w.normal_(0, 0.5, generator=generator)
    logits = []
    upscale = sam.postprocess_masks
    sam.postprocess_masks = lambda *a, **k: logits.append(upscale(*a, **k)[0].numpy().copy()) or upscale(*a, **k)
    detector.fit(cases["train"])
    test = cases["test"]
    predictions = [validate_prediction("mias-sam", c, p) for c, p in zip(test, detector.predict(test), strict=True)]
    return predictions, logits


def test_the_detector_gives_the_same_maps_and_masks_with_either_kernel(tmp_path, cases, monkeypatch):
    """Maps agree to 1e-4 of their range; masks agree except where SAM's logit is within 1e-4 of its threshold.

    A random decoder puts logits arbitrarily close to 0 (here as close as 1e-8), where float32 rounding of
    any kind decides the pixel: a handful of the 786,432 mask pixels differ, each such a pixel.
    """
    monkeypatch.setenv("MIAS_SAM_EMBEDDING_CACHE", "off")
    fused, _ = _predictions(tmp_path, cases, "fused")
    reference, logits = _predictions(tmp_path, cases, "reference")
    differing = total = 0
    for a, b, logit in zip(fused, reference, logits, strict=True):
        scale = float(b.anomaly_map.max() - b.anomaly_map.min())
        assert np.abs(a.anomaly_map - b.anomaly_map).max() <= 1e-4 * scale
        for j in range(3):
            changed = a.extra_masks[f"mask{j}"] != b.extra_masks[f"mask{j}"]
            assert (np.abs(logit[j][changed]) < 1e-4).all()
            differing, total = differing + int(changed.sum()), total + changed.size
        np.testing.assert_array_equal(a.mask, a.extra_masks["mask0"])
    assert differing <= 1e-4 * total
