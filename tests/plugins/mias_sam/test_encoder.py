"""The encoder runner: batches from memory, batch splitting, the preprocessing of SamPredictor."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from segment_anything import SamPredictor

from bench_mias_sam import encoder as encoder_module
from bench_mias_sam.attention import CUDA_MASK_BYTES, MASK_BYTES
from bench_mias_sam.encoder import MAX_BATCH, RUNTIME_BYTES, SamEncoder, activation_bytes, choose_batch

GIB = 2**30


def _weights(sam) -> int:
    return sum(p.numel() * p.element_size() for p in sam.parameters())


def test_a_batch_from_the_config_is_used_as_is(tiny_sam):
    choice = choose_batch(tiny_sam, device="cpu", attention="fused", dtype=torch.float32, fixed=3, memory_gib=4)
    assert (choice.size, choice.source) == (3, "config")
    assert choice.as_notes() == {"encoder_batch": 3, "encoder_batch_from": "config"}


@pytest.mark.parametrize("gib", [1.0, 2.0, 4.0, 64.0])
def test_a_cpu_batch_fits_the_budget_and_one_more_image_would_not(tiny_sam, monkeypatch, gib):
    monkeypatch.setattr(encoder_module, "available_memory_bytes", lambda: 512 * GIB)
    choice = choose_batch(tiny_sam, device="cpu", attention="fused", dtype=torch.float32, fixed=None, memory_gib=gib)
    per_image = activation_bytes(tiny_sam, "fused", torch.float32)
    need = lambda n: _weights(tiny_sam) + MASK_BYTES + RUNTIME_BYTES + n * per_image  # noqa: E731
    assert choice.budget_bytes == gib * GIB
    assert choice.size == 1 or need(choice.size) <= gib * GIB
    assert choice.size == MAX_BATCH["cpu"] or need(choice.size + 1) > gib * GIB
    notes = choice.as_notes()
    assert notes["encoder_batch"] == choice.size and "encoder_memory_gib" in notes["encoder_batch_from"]


def test_little_available_memory_lowers_the_batch_but_never_below_one(tiny_sam, monkeypatch):
    def batch(available):
        monkeypatch.setattr(encoder_module, "available_memory_bytes", lambda: available)
        return choose_batch(tiny_sam, device="cpu", attention="fused", dtype=torch.float32, fixed=None, memory_gib=4)

    plenty, little, none = batch(64 * GIB), batch(int(1.5 * GIB)), batch(0)
    assert plenty.budget_bytes == 4 * GIB and little.budget_bytes == int(0.75 * GIB)
    assert plenty.size > little.size >= 1 and none.size == 1


def test_segment_anythings_own_attention_is_estimated_with_its_attention_matrices(tiny_sam):
    fused = activation_bytes(tiny_sam, "fused", torch.float32)
    reference = activation_bytes(tiny_sam, "reference", torch.float32)
    # tiny SAM: 64 x 64 tokens in windows of 8 x 8, 2 heads: three float32 copies of 64 windows of 64 x 64 scores
    assert reference - fused == 3 * 2 * 64 * 64 * 64 * 4
    assert activation_bytes(tiny_sam, "fused", torch.bfloat16) == fused // 2


def test_a_cuda_batch_fits_the_free_device_memory(tiny_sam, monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2 * GIB, 80 * GIB))
    choice = choose_batch(tiny_sam, device="cuda", attention="fused", dtype=torch.bfloat16, fixed=None, memory_gib=4)
    per_image = activation_bytes(tiny_sam, "fused", torch.bfloat16)
    assert choice.budget_bytes == int(2 * GIB * 0.85)
    assert CUDA_MASK_BYTES + choice.size * per_image <= choice.budget_bytes
    assert choice.size == MAX_BATCH["cuda"] or CUDA_MASK_BYTES + (choice.size + 1) * per_image > choice.budget_bytes


def test_images_go_through_in_batches_and_match_sam_predictor(tiny_sam, cases):
    from bench_mias_sam.pipeline import model_image

    sam = copy.deepcopy(tiny_sam)
    encoder = SamEncoder(sam, device="cpu", batch=2)
    sizes = []
    sam.image_encoder.register_forward_hook(lambda module, args, output: sizes.append(len(output)))
    images = [model_image(case.image, 256)[0] for case in cases["test"] + cases["train"][:1]]
    embeddings = encoder(images)
    assert sizes == [2, 2, 1] and embeddings.shape == (5, 256, 64, 64) and embeddings.dtype == torch.float32
    predictor = SamPredictor(sam)  # the same network (fused attention): the preprocessing is under test here
    for image, embedding in zip(images, embeddings, strict=True):
        predictor.set_image(image)
        torch.testing.assert_close(embedding, predictor.get_image_embedding()[0], rtol=1e-5, atol=1e-5)


def test_available_memory_is_read_from_the_system():
    available = encoder_module.available_memory_bytes()
    assert available is None or available > 0


def _micro_sam():
    """A SAM small enough for bfloat16 on a CPU without bf16 units (8 x 8 tokens, 16 channels)."""
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        encoder = ImageEncoderViT(
            img_size=64, patch_size=8, embed_dim=16, depth=1, num_heads=2, out_chans=16, use_rel_pos=True
        )
        prompt = PromptEncoder(embed_dim=16, image_embedding_size=(8, 8), input_image_size=(64, 64), mask_in_chans=4)
        transformer = TwoWayTransformer(depth=1, embedding_dim=16, mlp_dim=16, num_heads=2)
        decoder = MaskDecoder(transformer_dim=16, transformer=transformer, iou_head_hidden_dim=8)
        return Sam(encoder, prompt, decoder).eval().requires_grad_(False)


def test_bfloat16_autocast_returns_float32_close_to_float32():
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    exact = SamEncoder(_micro_sam(), device="cpu", batch=1)([image])
    low = SamEncoder(_micro_sam(), device="cpu", batch=1, dtype="bfloat16")([image])
    assert exact.shape == low.shape == (1, 16, 8, 8) and low.dtype == torch.float32
    assert not torch.equal(exact, low)  # autocast did run in bfloat16
    assert np.corrcoef(exact.flatten().numpy(), low.flatten().numpy())[0, 1] > 0.99
