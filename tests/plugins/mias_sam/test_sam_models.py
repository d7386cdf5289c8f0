"""Building SAM: seeded random weights, checkpoints through the weights cache, no silent fall-back."""

from __future__ import annotations

import pytest
import torch

from bench.errors import ConfigError, WeightsError
from bench.weights import add_checkpoint, sha256_file
from bench_mias_sam import sam_models
from bench_mias_sam.sam_models import build_tiny_sam, checkpoint_name, load_sam


def _same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_the_tiny_sam_has_the_published_tensor_shapes():
    sam = build_tiny_sam()
    with torch.no_grad():
        emb = sam.image_encoder(torch.zeros(1, 3, 256, 256))
    assert emb.shape == (1, 256, 64, 64)
    assert sum(p.numel() for p in sam.parameters()) < 3_000_000


def test_random_weights_are_seeded_and_leave_the_global_generator_alone():
    state = torch.random.get_rng_state()
    a = load_sam("tiny", "random-init", seed=0, device="cpu")
    b = load_sam("tiny", "random-init", seed=0, device="cpu")
    c = load_sam("tiny", "random-init", seed=1, device="cpu")
    assert torch.equal(state, torch.random.get_rng_state())
    assert _same(a.model, b.model) and not _same(a.model, c.model)
    assert (a.weights, a.weights_sha256) == ("random-init", None)
    assert not any(p.requires_grad for p in a.model.parameters()) and not a.model.training


def test_official_checkpoint_per_variant_and_mismatches_refused():
    assert checkpoint_name("vit_b", None) == "sam_vit_b"
    assert checkpoint_name("medsam", None) == "medsam_vit_b"
    assert checkpoint_name("vit_h", "random-init") is None
    with pytest.raises(ConfigError, match="for sam_variant 'vit_h'"):
        checkpoint_name("vit_b", "sam_vit_h")
    with pytest.raises(ConfigError, match="only with random weights"):
        checkpoint_name("tiny", None)


def test_a_missing_checkpoint_is_an_error_never_random_weights():
    with pytest.raises(WeightsError, match="mias-bench weights fetch medsam_vit_b"):
        load_sam("medsam", None, seed=0, device="cpu")


def test_a_registered_checkpoint_is_loaded_with_its_digest(tmp_path, monkeypatch):
    # vit_b's architecture stands in as the tiny network so the test stays small
    monkeypatch.setattr(sam_models, "build_architecture", lambda variant: build_tiny_sam())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        trained = build_tiny_sam()
    path = tmp_path / "mine.pth"
    torch.save(trained.state_dict(), path)
    add_checkpoint(path, "my_sam", variant="vit_b")
    loaded = load_sam("vit_b", "my_sam", seed=0, device="cpu")
    assert _same(loaded.model, trained)
    assert (loaded.weights, loaded.weights_sha256) == ("my_sam", sha256_file(path))


def test_a_checkpoint_that_does_not_fit_the_architecture_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(sam_models, "build_architecture", lambda variant: build_tiny_sam())
    path = tmp_path / "other.pth"
    torch.save({"image_encoder.unrelated": torch.zeros(3)}, path)
    add_checkpoint(path, "other", variant="vit_b")
    with pytest.raises(WeightsError, match="does not fit"):
        load_sam("vit_b", "other", seed=0, device="cpu")
